//! Unit tests of the transport over scripted streams.
