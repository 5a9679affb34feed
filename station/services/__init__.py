"""Domain services. Each function takes the database session and the acting user as keyword
arguments, may flush, never commits, and raises a domain error the caller turns into a response."""
