//! Protocol detection by content: which parser should a new connection get.
