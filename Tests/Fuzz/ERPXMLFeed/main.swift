import FuzzDriver

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

exit(wharf_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { fuzzXMLFeed($0, $1) })
