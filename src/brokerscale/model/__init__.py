"""Pure data types shared by every verb; validation lives here (pydantic)."""
