//! The typed client of the export backend API v1 (being built).
