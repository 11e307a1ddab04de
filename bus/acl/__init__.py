"""Kafka ACLs generated from the applied agreements (issue 11): rules, evaluation, rendering."""
