// swift-tools-version:6.0
// Wharf — a commerce integration hub. No package dependencies by design: Foundation, Dispatch, XCTest and
// C libraries through system library targets only (see DESIGN.md).
import PackageDescription

/// Deliberately broken plugins that the loader tests install to check each refusal message.
let fixturePlugins = [
    "NoEntry", "ABIMajor", "SmallDescriptor", "BadID", "Refuses", "DuplicateID", "MissingOperation",
    // Misbehaving plugins for the crash-isolation tests: they crash, abort, hang or eat memory while running.
    "Crashes", "Aborts", "Hangs", "HogsMemory",
    // A plugin that signs in with a secret from the environment, for the tests that no secret value leaks.
    "UsesSecret",
]

let package = Package(
    name: "Wharf",
    products: [
        .executable(name: "wharf", targets: ["wharf"]),
        // Connector plugins: one shared library per external system, loaded by the host with dlopen.
        .library(name: "wharf-catalog-file", type: .dynamic, targets: ["CatalogFile"]),
        .library(name: "wharf-stock-csv", type: .dynamic, targets: ["StockCSV"]),
        .library(name: "wharf-erp-xml", type: .dynamic, targets: ["ERPXMLFeed"]),
        .library(name: "wharf-oms", type: .dynamic, targets: ["OMS"]),
        .library(name: "wharf-crm-companies", type: .dynamic, targets: ["CRMCompanies"]),
        .library(name: "wharf-cpq-pricing", type: .dynamic, targets: ["CPQPricing"]),
        .library(name: "wharf-edm-export", type: .dynamic, targets: ["EDMExport"]),
        .library(name: "wharf-bi-export", type: .dynamic, targets: ["BIExport"]),
    ] + fixturePlugins.map { name in
        .library(name: "wharf-fixture-\(kebab(name))", type: .dynamic, targets: ["Fixture\(name)"])
    },
    targets: [
        // MARK: C libraries and shims
        .systemLibrary(name: "CSQLite", path: "Core/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibXML2", path: "Core/CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .target(name: "CWharfSystem", path: "Core/CWharfSystem"),
        .target(name: "WharfABI", path: "Core/WharfABI"),
        // gzip for export files (zlib; the exports' `gzip: true`).
        .systemLibrary(name: "CZlib", path: "Core/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Host
        .target(name: "WharfModel", path: "Core/WharfModel"),
        .target(name: "WharfStore", dependencies: ["WharfModel", "CSQLite"], path: "Core/WharfStore"),
        .target(name: "WharfHTTP", dependencies: ["CWharfSystem"], path: "Core/WharfHTTP"),
        .target(name: "WharfManifest", dependencies: ["WharfModel", "WharfSchedule"], path: "Core/WharfManifest"),
        .target(name: "WharfAuth", dependencies: ["WharfModel"], path: "Core/WharfAuth"),
        .target(name: "WharfPlugins", dependencies: ["WharfABI"], path: "Core/WharfPlugins"),
        .target(name: "WharfSchedule", path: "Core/WharfSchedule"),
        .target(
            name: "WharfHost",
            dependencies: [
                "WharfABI", "WharfModel", "WharfStore", "WharfHTTP", "WharfManifest", "WharfAuth", "WharfPlugins",
            ],
            path: "Core/WharfHost"
        ),
        .executableTarget(name: "wharf", dependencies: ["WharfHost"], path: "Core/wharf"),

        // MARK: Plugins
        .target(name: "WharfPluginKit", dependencies: ["WharfABI"], path: "Plugins/WharfPluginKit"),
        .target(name: "CatalogFile", dependencies: ["WharfPluginKit", "WharfABI"], path: "Plugins/CatalogFile"),
        .target(name: "StockCSV", dependencies: ["WharfABI"], path: "Plugins/StockCSV"),
        .target(name: "ERPXMLFeed", dependencies: ["WharfPluginKit", "WharfABI", "CLibXML2"], path: "Plugins/ERPXMLFeed"),
        .target(name: "OMS", dependencies: ["WharfPluginKit", "WharfABI"], path: "Plugins/OMS"),
        .target(name: "CRMCompanies", dependencies: ["WharfPluginKit", "WharfABI"], path: "Plugins/CRMCompanies"),
        .target(name: "CPQPricing", dependencies: ["WharfPluginKit", "WharfABI"], path: "Plugins/CPQPricing"),
        .target(name: "WharfExportKit", dependencies: ["WharfPluginKit", "WharfABI", "WharfModel", "WharfAuth", "CZlib"], path: "Plugins/WharfExportKit"),
        .target(name: "EDMExport", dependencies: ["WharfExportKit", "WharfPluginKit", "WharfABI"], path: "Plugins/EDMExport"),
        .target(name: "BIExport", dependencies: ["WharfExportKit", "WharfPluginKit", "WharfABI"], path: "Plugins/BIExport"),

        // MARK: Tests
        .target(name: "WharfTestSupport", path: "Tests/WharfTestSupport"),
        .testTarget(name: "WharfModelTests", dependencies: ["WharfModel"]),
        .testTarget(name: "WharfStoreTests", dependencies: ["WharfStore", "WharfModel", "WharfTestSupport"]),
        .testTarget(name: "WharfHTTPTests", dependencies: ["WharfHTTP", "WharfTestSupport"]),
        .testTarget(name: "WharfManifestTests", dependencies: ["WharfManifest", "WharfTestSupport"]),
        .testTarget(name: "WharfAuthTests", dependencies: ["WharfAuth", "WharfModel"]),
        .testTarget(name: "WharfScheduleTests", dependencies: ["WharfSchedule"]),
        .testTarget(name: "WharfPluginsTests", dependencies: ["WharfPlugins", "WharfABI", "WharfTestSupport"]),
        .testTarget(
            name: "WharfHostTests",
            dependencies: [
                "WharfHost", "WharfStore", "WharfModel", "WharfHTTP", "WharfManifest", "WharfAuth", "WharfPlugins",
                "WharfABI", "WharfTestSupport",
            ]
        ),
        .testTarget(name: "WharfPluginKitTests", dependencies: ["WharfPluginKit", "WharfABI", "WharfTestSupport"]),
        .testTarget(name: "WharfEndToEndTests", dependencies: ["WharfTestSupport"]),
        .testTarget(
            name: "ERPXMLFeedTests",
            dependencies: [
                "WharfHost", "WharfStore", "WharfModel", "WharfManifest", "WharfPlugins", "WharfABI", "WharfTestSupport",
            ]
        ),
        .testTarget(
            name: "CRMCompaniesTests",
            dependencies: [
                "WharfHost", "WharfStore", "WharfModel", "WharfManifest", "WharfPlugins", "WharfAuth", "WharfTestSupport",
            ]
        ),
        .testTarget(
            name: "CPQPricingTests",
            dependencies: ["WharfHost", "WharfStore", "WharfModel", "WharfManifest", "WharfPlugins", "WharfTestSupport"]
        ),
        // Pricing benchmark driver (scripts/bench-pricing).
        .executableTarget(
            name: "PricingBench",
            dependencies: ["WharfHost", "WharfStore", "WharfModel", "WharfManifest", "WharfAuth", "WharfTestSupport"],
            path: "Tests/Bench/Pricing"
        ),
        .target(name: "FixtureSupport", dependencies: ["WharfABI"], path: "Tests/Fixtures/Plugins/Support"),
        // Fuzz harnesses (scripts/fuzz builds them with libFuzzer; a normal build replays inputs given as arguments).
        .target(name: "FuzzDriver", path: "Tests/Fuzz/Driver"),
        .executableTarget(name: "FuzzHTTPParser", dependencies: ["WharfHTTP", "FuzzDriver"], path: "Tests/Fuzz/HTTPParser"),
        .executableTarget(name: "FuzzManifest", dependencies: ["WharfManifest", "FuzzDriver"], path: "Tests/Fuzz/Manifest"),
        // Order placement benchmark driver (scripts/bench-orders).
        .executableTarget(name: "BenchOrders", dependencies: ["WharfTestSupport"], path: "Tests/Bench/Orders"),
        // Export benchmark driver (scripts/bench-exports).
        .executableTarget(name: "BenchExports", dependencies: ["WharfHost", "WharfStore", "WharfModel", "WharfManifest"], path: "Tests/Bench/Exports"),
        .executableTarget(name: "FuzzERPXML", dependencies: ["ERPXMLFeed", "WharfABI", "WharfManifest", "FuzzDriver"], path: "Tests/Fuzz/ERPXMLFeed"),
    ] + fixturePlugins.map { name in
        .target(name: "Fixture\(name)", dependencies: ["WharfABI", "FixtureSupport"], path: "Tests/Fixtures/Plugins/\(name)")
    }
)

/// "SmallDescriptor" -> "small-descriptor"; "ABIMajor" -> "abi-major".
func kebab(_ name: String) -> String {
    var out = ""
    let chars = Array(name)
    for (i, c) in chars.enumerated() {
        if c.isUppercase, i > 0, chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase) {
            out.append("-")
        }
        out.append(contentsOf: c.lowercased())
    }
    return out
}

// The ingest path in release builds: no dynamic exclusivity checks. Callgrind put them (swift_beginAccess and its
// thread-local access set) at ~15 % of the instructions of an ERP XML import, spread over every class property
// access of the parser and the writer. Debug builds, which the tests run, keep checking.
for target in package.targets
where ["WharfModel", "WharfStore", "WharfHost", "WharfPluginKit", "ERPXMLFeed"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? [])
        + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}
