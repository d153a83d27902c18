//! The parts of the `centralino` package that are also a library, for the fuzz targets
//! (`fuzz/`): the binary (`main.rs`) uses them from here. Only what reads untrusted input
//! belongs here; the rest of the program stays in the binary.

pub mod archive;
