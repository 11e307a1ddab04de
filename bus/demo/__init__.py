"""What ``bus up --demo`` shows a newcomer."""
