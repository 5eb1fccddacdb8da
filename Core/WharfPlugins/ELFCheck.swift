#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Not public

/// Reads a library's ELF header before `dlopen`, so that the common mistakes (a directory, a text file, an
/// executable, a library built for another machine) get a precise message instead of dlopen's generic one.
enum ELFCheck {
    /// The host's ELF machine (`e_machine`) and its name.
    static var hostMachine: (number: UInt16, name: String) {
        #if arch(x86_64)
        return (62, "x86_64")
        #elseif arch(arm64)
        return (183, "aarch64")
        #elseif arch(i386)
        return (3, "i386")
        #elseif arch(arm)
        return (40, "arm")
        #elseif arch(riscv64)
        return (243, "riscv64")
        #elseif arch(powerpc64le)
        return (21, "ppc64le")
        #elseif arch(s390x)
        return (22, "s390x")
        #else
        return (0, "this architecture")
        #endif
    }

    /// A name people know for an ELF machine number.
    static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 2: return "sparc"
        case 3: return "i386"
        case 8: return "mips"
        case 20: return "ppc"
        case 21: return "ppc64"
        case 22: return "s390x"
        case 40: return "arm"
        case 43: return "sparc64"
        case 62: return "x86_64"
        case 183: return "aarch64"
        case 243: return "riscv"
        case 258: return "loongarch"
        default: return "ELF machine \(machine)"
        }
    }

    /// Checks that `path` is a regular, readable, native ELF shared library that is not an executable.
    static func check(path: String) throws(PluginLoadError) {
        var st = stat()
        if stat(path, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw PluginLoadError(
                    code: .fileNotFound, path: path,
                    message: "no file at \(path); check the path (a plugin is the .so file its build produced)")
            }
            throw PluginLoadError(
                code: .unreadable, path: path,
                message: "cannot read \(path): \(errnoText(err)); check the path and its permissions")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw PluginLoadError(
                code: .notRegularFile, path: path,
                message: "\(path) is a directory, not a plugin library; pass the path of the plugin's .so file")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw PluginLoadError(
                code: .notRegularFile, path: path,
                message: "\(path) is not a regular file; pass the path of the plugin's .so file")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            throw PluginLoadError(
                code: .unreadable, path: path,
                message: "cannot read \(path): \(errnoText(err)); check the file's permissions")
        }
        defer { close(fd) }

        var header = [UInt8](repeating: 0, count: 64)
        let got = readFully(fd, into: &header, at: 0)
        let notELF = PluginLoadError(
            code: .notELF, path: path,
            message: "\(path) is not a shared library (no ELF header); pass the .so built for the plugin")
        guard got >= 4, header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46 else {
            throw notELF
        }
        let host = hostMachine
        let hostBits = MemoryLayout<Int>.size * 8
        // EI_CLASS: 1 = 32-bit, 2 = 64-bit.
        let fileBits = header[4] == 1 ? 32 : header[4] == 2 ? 64 : 0
        guard got >= (fileBits == 64 ? 64 : 52) else {
            throw PluginLoadError(
                code: .notELF, path: path,
                message: "\(path) is a truncated ELF file (\(got) bytes); rebuild the plugin and pass its .so")
        }
        if fileBits != hostBits {
            let what = fileBits == 0 ? "an ELF file of unknown class \(header[4])" : "a \(fileBits)-bit ELF file"
            throw PluginLoadError(
                code: .wrongClass, path: path,
                message: "\(path) is \(what) but this host is \(hostBits)-bit \(host.name); build the plugin for \(hostBits)-bit \(host.name)")
        }
        // EI_DATA: 1 = little endian, 2 = big endian.
        let hostLittle = 1.littleEndian == 1
        let fileLittle = header[5] == 1
        if header[5] != 1 && header[5] != 2 || fileLittle != hostLittle {
            let fileOrder = header[5] == 1 ? "little-endian" : header[5] == 2 ? "big-endian" : "of unknown byte order"
            throw PluginLoadError(
                code: .wrongByteOrder, path: path,
                message: "\(path) is built \(fileOrder) but this host is \(hostLittle ? "little" : "big")-endian \(host.name); build the plugin for \(host.name)")
        }
        // From here on the file has the host's class and byte order, so fields can be read natively.
        let type = u16(header, 16)
        let machine = u16(header, 18)
        if machine != host.number {
            throw PluginLoadError(
                code: .wrongMachine, path: path,
                message: "\(path) is built for \(machineName(machine)) but this host is \(host.name); build the plugin for \(host.name)")
        }
        switch type {
        case 3: break  // ET_DYN: a shared library or a position-independent executable (checked below).
        case 2:
            throw PluginLoadError(
                code: .notSharedObject, path: path,
                message: "\(path) is an executable program (ELF type EXEC), not a shared library; pass the plugin's .so (a dynamic library product)")
        case 1:
            throw PluginLoadError(
                code: .notSharedObject, path: path,
                message: "\(path) is an object file (ELF type REL), not a shared library; link it into a .so (a dynamic library product)")
        case 4:
            throw PluginLoadError(
                code: .notSharedObject, path: path,
                message: "\(path) is a core dump, not a shared library; pass the plugin's .so")
        default:
            throw PluginLoadError(
                code: .notSharedObject, path: path,
                message: "\(path) is not a shared library (ELF type \(type)); pass the plugin's .so")
        }
        guard hostBits == 64 else { return }
        let layout = programLayout(fd: fd, header: header)
        let size = UInt64(max(0, st.st_size))
        if layout.end > size {
            // dlopen maps segments past the end of a truncated file, and touching them kills the process (SIGBUS).
            throw PluginLoadError(
                code: .truncated, path: path,
                message: "\(path) is truncated (\(size) bytes, its ELF headers describe \(layout.end)); copy or build the plugin again")
        }
        if layout.isPIE {
            throw PluginLoadError(
                code: .notSharedObject, path: path,
                message: "\(path) is an executable program (position-independent executable), not a shared library; pass the plugin's .so (a dynamic library product)")
        }
    }

    /// Reads a 64-bit native ELF file's program headers: the file size its segments and tables need, and whether
    /// DT_FLAGS_1 has DF_1_PIE (how glibc tells a PIE program, which it refuses to dlopen, from a shared library;
    /// both are ET_DYN).
    private static func programLayout(fd: Int32, header: [UInt8]) -> (end: UInt64, isPIE: Bool) {
        let phoff = u64(header, 32)
        let shoff = u64(header, 40)
        let phentsize = UInt64(u16(header, 54))
        let phnum = UInt64(u16(header, 56))
        let shentsize = UInt64(u16(header, 58))
        let shnum = UInt64(u16(header, 60))
        var end: UInt64 = 64
        // Offsets come from an untrusted file: clamp them so the sums below cannot overflow.
        let limit: UInt64 = 1 << 48
        guard phoff < limit, shoff < limit else { return (UInt64.max, false) }
        end = max(end, phoff + phentsize * phnum)
        if shnum > 0 { end = max(end, shoff + shentsize * shnum) }
        guard phentsize >= 56, phnum > 0, phnum < 4096 else { return (end, false) }
        var table = [UInt8](repeating: 0, count: Int(phentsize * phnum))
        guard readFully(fd, into: &table, at: off_t(phoff)) == table.count else { return (end, false) }
        var dynamic: (offset: UInt64, size: UInt64)?
        for index in 0..<Int(phnum) {
            let base = index * Int(phentsize)
            let type = u32(table, base)
            let offset = u64(table, base + 8)
            let fileSize = u64(table, base + 32)
            guard offset < limit, fileSize < limit else { return (UInt64.max, false) }
            if type == 1 || type == 2 { end = max(end, offset + fileSize) }  // PT_LOAD, PT_DYNAMIC
            if type == 2 { dynamic = (offset, fileSize) }
        }
        guard let dynamic, dynamic.size > 0, dynamic.size < 1 << 20 else { return (end, false) }
        var entries = [UInt8](repeating: 0, count: Int(dynamic.size))
        let got = readFully(fd, into: &entries, at: off_t(dynamic.offset))
        var entry = 0
        while entry + 16 <= got {
            let tag = u64(entries, entry)
            if tag == 0 { break }  // DT_NULL
            if tag == 0x6FFF_FFFB, u64(entries, entry + 8) & 0x0800_0000 != 0 { return (end, true) }  // DT_FLAGS_1, DF_1_PIE
            entry += 16
        }
        return (end, false)
    }

    private static func readFully(_ fd: Int32, into buffer: inout [UInt8], at offset: off_t) -> Int {
        var total = 0
        let count = buffer.count
        while total < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + total, count - total, offset + off_t(total))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        return total
    }

    // Little-endian readers: the checks above only reach them for files of the host's byte order, and Wharf's
    // hosts (x86_64, aarch64) are little-endian.
    private static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(u16(bytes, at)) | UInt32(u16(bytes, at + 2)) << 16
    }

    private static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        UInt64(u32(bytes, at)) | UInt64(u32(bytes, at + 4)) << 32
    }
}

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
