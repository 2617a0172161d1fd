//! Drover core (filled in below).
