// Flow view models over the core (enrollment, login, devices, services, QR login, share,
// activity): plain Kotlin/JVM, no Android types, so they are built and tested on the JVM
// (android/jvm, Maven) against the host library and the reference server.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":bindings"))
    api(libs.kotlinx.coroutines.core)
    compileOnly(libs.jna)
}
