//! urpd library
