// swift-tools-version:5.9
//
// Swift package `CitizenCore`: the Rust core as an XCFramework, its generated Swift bindings, and
// the hand-written iOS platform adapters.
//
//   CitizenCoreFFI   binary target: Frameworks/CitizenCoreFFI.xcframework (static libcitizen_core.a
//                    for iOS devices and the simulator, with the C header and the module map of
//                    the `citizen_coreFFI` Clang module). Built by `./build-xcframework.sh`.
//   CitizenCore      the UniFFI-generated Swift (`Sources/CitizenCore/CitizenCore.swift`), copied
//                    by `./build-xcframework.sh` from `bindings/swift/Sources/`, which stays the
//                    single source of truth (the copy is git-ignored; never edit it).
//   CitizenCoreKit   hand-written: SecureEnclaveDeviceKeyStore, KeychainDataKeyWrapper,
//                    KeystoreSupport, DataDirectory, NfcIso7816ApduTransport (CoreNFC).
//
// Run `./build-xcframework.sh` once (on a Mac with Xcode) before opening the package: until then
// the binary target and the generated Swift are missing.
import PackageDescription

let package = Package(
    name: "CitizenCore",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "CitizenCore", targets: ["CitizenCore"]),
        .library(name: "CitizenCoreKit", targets: ["CitizenCoreKit"]),
    ],
    targets: [
        .binaryTarget(
            name: "CitizenCoreFFI",
            path: "Frameworks/CitizenCoreFFI.xcframework"
        ),
        .target(
            name: "CitizenCore",
            dependencies: ["CitizenCoreFFI"],
            path: "Sources/CitizenCore",
            exclude: ["README.md"],
            // What the Rust static library needs from the SDK (rustls-platform-verifier and
            // security-framework: Security and CoreFoundation; the rest is libSystem).
            linkerSettings: [
                .linkedFramework("Security"),
                .linkedFramework("CoreFoundation"),
            ]
        ),
        .target(
            name: "CitizenCoreKit",
            dependencies: ["CitizenCore"],
            path: "Sources/CitizenCoreKit",
            linkerSettings: [
                .linkedFramework("Security"),
                .linkedFramework("LocalAuthentication"),
                .linkedFramework("CryptoTokenKit"),
                .linkedFramework("CryptoKit"),
                .linkedFramework("CoreNFC"),
            ]
        ),
        .testTarget(
            name: "CitizenCoreKitTests",
            dependencies: ["CitizenCoreKit", "CitizenCore"],
            path: "Tests/CitizenCoreKitTests"
        ),
    ]
)
