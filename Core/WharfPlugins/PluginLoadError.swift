/// Why a plugin library could not be loaded, installed or removed.
///
/// `message` is one line that says what is wrong and what to do, and names the path; `code` is stable for programs.
public struct PluginLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier for the kind of failure. New codes may be added.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. `"wrong-machine"`.
        public let rawValue: String
        /// Creates a code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's text.
        public var description: String { rawValue }

        /// Nothing exists at the path.
        public static let fileNotFound = Code(rawValue: "file-not-found")
        /// The path is a directory or another kind of non-regular file.
        public static let notRegularFile = Code(rawValue: "not-regular-file")
        /// The file exists but could not be read (permissions, I/O error).
        public static let unreadable = Code(rawValue: "unreadable")
        /// The file has no ELF header.
        public static let notELF = Code(rawValue: "not-elf")
        /// The file is ELF but not a shared library (an executable, an object file, a core dump).
        public static let notSharedObject = Code(rawValue: "not-shared-object")
        /// The file is shorter than its ELF headers say (a partial copy or download).
        public static let truncated = Code(rawValue: "truncated")
        /// The file is built for the other word size (32-bit vs 64-bit).
        public static let wrongClass = Code(rawValue: "wrong-class")
        /// The file is built for the other byte order.
        public static let wrongByteOrder = Code(rawValue: "wrong-byte-order")
        /// The file is built for another CPU architecture.
        public static let wrongMachine = Code(rawValue: "wrong-machine")
        /// `dlopen` refused the library (missing dependency, bad relocation, ...).
        public static let dlopenFailed = Code(rawValue: "dlopen-failed")
        /// The library does not export `wharf_plugin_entry`.
        public static let missingEntry = Code(rawValue: "missing-entry")
        /// `wharf_plugin_entry` returned NULL.
        public static let entryRefused = Code(rawValue: "entry-refused")
        /// The descriptor is smaller than ABI 1.0's.
        public static let descriptorTooSmall = Code(rawValue: "descriptor-too-small")
        /// The plugin was built for another ABI major version.
        public static let abiMajorMismatch = Code(rawValue: "abi-major-mismatch")
        /// The descriptor's `id` breaks the id rule (or a given id does).
        public static let invalidID = Code(rawValue: "invalid-id")
        /// The descriptor's `system_kind` is not one of the known kinds.
        public static let invalidSystemKind = Code(rawValue: "invalid-system-kind")
        /// The descriptor's `version` is not a semantic version.
        public static let invalidVersion = Code(rawValue: "invalid-version")
        /// A capability bit is set but the matching operation is NULL.
        public static let missingOperation = Code(rawValue: "missing-operation")
        /// `create` or `destroy` is NULL.
        public static let missingFunction = Code(rawValue: "missing-function")
        /// The library at this path was replaced after this process loaded it.
        public static let replacedSinceLoad = Code(rawValue: "replaced-since-load")
        /// A plugin with the same id is already installed (or listed twice).
        public static let duplicateID = Code(rawValue: "duplicate-id")
        /// A library in the plugin folder is not named after its plugin id.
        public static let misnamed = Code(rawValue: "misnamed")
        /// No plugin with the given id is installed.
        public static let notInstalled = Code(rawValue: "not-installed")
        /// Copying, renaming or removing a file in the plugin folder failed.
        public static let folderFailed = Code(rawValue: "folder-failed")
    }

    /// What kind of failure this is.
    public let code: Code
    /// The library (or folder) the failure is about.
    public let path: String
    /// One line: what is wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
