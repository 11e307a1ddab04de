"""The HTTP gateway (:8080): ingestion for systems that cannot run the SDK; later audit and consent."""
