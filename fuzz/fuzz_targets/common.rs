// Shared by the stream-parser fuzz targets: the input itself says how the
// bytes are cut, which direction each piece travels, and where gaps and
// ends fall (fumidai_proto::driver::play_script), so the fuzzer explores
// the driver's interleavings too; the parsers' regression tests replay the
// seeds it leaves the same way.

pub use fumidai_proto::driver::play_script as drive;
