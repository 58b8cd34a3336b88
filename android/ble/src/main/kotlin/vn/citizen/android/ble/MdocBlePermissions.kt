package vn.citizen.android.ble

/**
 * The runtime permissions each BLE adapter needs, by API level (declared in the app's
 * AndroidManifest.xml, asked for by the shell when the citizen starts a presentation or the
 * verifier starts a check — never before). Pure, so the JVM tests check the lists.
 */
object MdocBlePermissions {
    private const val ADVERTISE = "android.permission.BLUETOOTH_ADVERTISE"
    private const val CONNECT = "android.permission.BLUETOOTH_CONNECT"
    private const val SCAN = "android.permission.BLUETOOTH_SCAN"
    private const val LEGACY = "android.permission.BLUETOOTH"
    private const val LEGACY_ADMIN = "android.permission.BLUETOOTH_ADMIN"
    private const val FINE_LOCATION = "android.permission.ACCESS_FINE_LOCATION"

    /** Android 12 (API 31): the Bluetooth permissions became runtime permissions of their own. */
    const val S = 31

    /** [BleMdocHolderTransport] (GATT server + advertising). */
    fun holder(sdkInt: Int): List<String> =
        if (sdkInt >= S) listOf(ADVERTISE, CONNECT) else listOf(LEGACY, LEGACY_ADMIN)

    /** [BleMdocReaderTransport] (scan + GATT client); below Android 12 a scan needs the location permission. */
    fun reader(sdkInt: Int): List<String> =
        if (sdkInt >= S) listOf(SCAN, CONNECT) else listOf(LEGACY, LEGACY_ADMIN, FINE_LOCATION)
}
