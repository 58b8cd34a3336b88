#!/usr/bin/env bash
# What can be checked of ios/ without a Swift toolchain (Linux CI). It is NOT a compile:
#   1. build-xcframework.sh passes `bash -n` and, when installed, shellcheck;
#   2. every call on the core and its sub-clients in the Swift sources (`core.<m>(…)`,
#      `core.account().<m>(…)`, `account.<m>(…)`, `self.services.<m>(…)`, …) names a method of the
#      generated protocol of its receiver (`CitizenCoreProtocol`, `AccountClientProtocol`,
#      `ServicesClientProtocol`, `ConsentClientProtocol`, `ActivityClientProtocol`,
#      `DocumentsClientProtocol` in
#      bindings/swift/Sources/CitizenCore.swift) with the same argument labels, uses `await`
#      exactly for the async ones and `try` on the throwing ones;
#   3. every localization key the app uses exists in both Localizable.strings (vi, en), and the
#      two files have the same keys;
#   4. the chip reader's configuration (issue 12): the eMRTD AID A0000002471001 in the Info.plist
#      select-identifiers of CitizenApp/project.yml, the NFC tag-reading entitlement, the NFC usage
#      text in both InfoPlist.strings;
#   5. every hand-written class that adopts the generated `ApduTransport` protocol implements each
#      of its methods with the generated labels, async/throws and return type;
#      (also `session.<m>` and `verifier.<m>` on a `PresentationSessionProtocol` /
#      `VerifierProtocol` the file holds);
#   6. the BLE adapters (issue 13) implement the core's `MdocTransport` the same way (marked
#      `// implements MdocTransport` until the trait is in the generated bindings), and the
#      Bluetooth usage text is declared and localized.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

bash -n "$here/build-xcframework.sh"
if command -v shellcheck >/dev/null 2>&1; then
    shellcheck "$here/build-xcframework.sh" "$here/check.sh"
else
    echo "ios/check.sh: shellcheck not installed; only 'bash -n' was run" >&2
fi

python3 - "$root" <<'PY'
import glob, re, sys

root = sys.argv[1]
generated = open(f"{root}/bindings/swift/Sources/CitizenCore.swift", encoding="utf-8").read()

def protocol_methods(name):
    start = generated.index(f"public protocol {name}Protocol")
    body = generated[start:generated.index("\n}", start)]
    methods = {}
    for m in re.finditer(r"func (\w+)\(([^)]*)\)\s*(async)?\s*(throws)?", body):
        methods[m.group(1)] = ([a.split(":")[0].strip() for a in m.group(2).split(",") if a.strip()],
                               bool(m.group(3)), bool(m.group(4)))
    return methods

# Receiver (as written in the Swift sources) -> the generated protocol of its type.
SUB_CLIENTS = {"account": "AccountClient", "services": "ServicesClient", "consent": "ConsentClient",
               "activity": "ActivityClient", "documents": "DocumentsClient",
               # The in-person presentation's and the verifier mode's objects (decision 45).
               "session": "PresentationSession", "verifier": "Verifier"}
protocols = {"core": protocol_methods("CitizenCore")}
for receiver, name in SUB_CLIENTS.items():
    protocols[receiver] = protocol_methods(name)
# Extensions the shell adds to the generated protocols (CitizenCoreKit, e.g. the AsyncStream
# adapters `outboxUpdates()` / `statusUpdates()`) count as methods of that protocol.
for kit in glob.glob(f"{root}/ios/Sources/CitizenCoreKit/*.swift"):
    kit_text = open(kit, encoding="utf-8").read()
    for ext in re.finditer(r"public extension (\w+)Protocol \{(.*?)\n\}", kit_text, re.S):
        receiver = {"CitizenCore": "core", **{n: r for r, n in SUB_CLIENTS.items()}}.get(ext.group(1))
        if receiver:
            for m in re.finditer(r"func (\w+)\(([^)]*)\)\s*(async)?\s*(throws)?", ext.group(2)):
                protocols[receiver][m.group(1)] = ([a.split(":")[0].strip() for a in m.group(2).split(",") if a.strip()],
                                                   bool(m.group(3)), bool(m.group(4)))
# The view models hold sub-clients under these names; `core.<sub>()` reaches them too.
call = re.compile(r"(?<![\w.])(?:self\.)?(?:core\.(account|services|consent|activity|documents)\(\)|(core|account|services|consent|activity|documents|session|verifier))"
                  r"\.(\w+)\(((?:[^()]|\([^()]*\))*)\)")

problems = []
sources = sorted(glob.glob(f"{root}/ios/**/*.swift", recursive=True))
sources = [s for s in sources if not s.endswith("/Sources/CitizenCore/CitizenCore.swift")]
# The app model holds view models under some of these names (`services`, `activity`): only
# files that hold a sub-client (a `…ClientProtocol` or the core) are checked.
calls = 0
for path in sources:
    text = open(path, encoding="utf-8").read()
    if "Protocol" not in text and "CitizenCore." not in text:
        continue
    held = {"core"} | {r for r, n in SUB_CLIENTS.items() if re.search(rf"\b{r}: {n}Protocol\b", text)}
    for m in call.finditer(text):
        receiver = m.group(1) or m.group(2)
        if m.group(2) and receiver not in held:
            continue  # e.g. AppModel's `services` view model
        calls += 1
        name, args = m.group(3), m.group(4)
        methods = protocols[receiver]
        where = f"{path[len(root) + 1:]}:{text.count(chr(10), 0, m.start()) + 1}"
        if name not in methods:
            problems.append(f"{where}: the protocol of `{receiver}` has no method {name}")
            continue
        labels = re.findall(r"(?:^|,)\s*(\w+):", args)
        expected, is_async, throws = methods[name]
        if labels != expected:
            problems.append(f"{where}: {name}({', '.join(labels)}:) but the bindings say {name}({', '.join(expected)}:)")
        line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
        if ("await" in line) != is_async:
            problems.append(f"{where}: {name} is {'async' if is_async else 'not async'}")
        # A throwing call needs `try` (`try?`/`try!`) before it on its line; a `try` before a
        # non-throwing one only warns, so only the missing case is reported.
        if throws and not re.search(r"\btry\b", line):
            problems.append(f"{where}: {name} throws: `try` is missing")

app = f"{root}/ios/CitizenApp"
keys = {}
for lang in ("vi", "en"):
    strings = open(f"{app}/Resources/{lang}.lproj/Localizable.strings", encoding="utf-8").read()
    keys[lang] = set(re.findall(r'^"([^"]+)" = "(?:[^"\\]|\\.)*";$', strings, re.M))
if keys["vi"] != keys["en"]:
    problems.append(f"Localizable.strings differ: {sorted(keys['vi'] ^ keys['en'])}")
key_use = re.compile(
    r'(?:Text|Label|Button|Section|TextField|SecureField|Link|ShareLink|Picker|navigationTitle|'
    r'NSLocalizedString|LocalizedStringKey|title:|return)\(?\s*"([a-z]+(?:\.[a-z]+)+(?: %(?:lld|@))?)"')
for path in glob.glob(f"{app}/Sources/**/*.swift", recursive=True):
    for key in key_use.findall(open(path, encoding="utf-8").read()):
        if key not in keys["vi"]:
            problems.append(f"{path[len(root) + 1:]}: localization key {key!r} is missing")

# 4. NFC configuration of the app (the generated Info.plist and entitlements come from project.yml).
project = open(f"{app}/project.yml", encoding="utf-8").read()
if not re.search(r"^\s*com\.apple\.developer\.nfc\.readersession\.iso7816\.select-identifiers:\s*\[[^]]*\bA0000002471001\b", project, re.M):
    problems.append("CitizenApp/project.yml: the eMRTD AID A0000002471001 is not in "
                    "com.apple.developer.nfc.readersession.iso7816.select-identifiers")
if not re.search(r"^\s*com\.apple\.developer\.nfc\.readersession\.formats:\s*\[[^]]*\bTAG\b", project, re.M):
    problems.append("CitizenApp/project.yml: the entitlement com.apple.developer.nfc.readersession.formats [TAG] is missing")
if not re.search(r"^\s*NFCReaderUsageDescription:\s*\S", project, re.M):
    problems.append("CitizenApp/project.yml: NFCReaderUsageDescription is missing")
for lang in ("vi", "en"):
    info = open(f"{app}/Resources/{lang}.lproj/InfoPlist.strings", encoding="utf-8").read()
    if not re.search(r'^"NFCReaderUsageDescription" = "[^"]+";$', info, re.M):
        problems.append(f"Resources/{lang}.lproj/InfoPlist.strings: NFCReaderUsageDescription is missing")

# 5. Adopters of the generated foreign protocols checked here: same methods as the bindings.
signature = re.compile(r"func (\w+)\(([^)]*)\)\s*(async)?\s*(throws)?\s*(?:->\s*([\w.\[\]?]+))?")
def methods_of(text):
    found = {}
    for m in signature.finditer(text):
        labels = [a.split(":")[0].strip().split()[-1] for a in m.group(2).split(",") if a.strip()]
        found[m.group(1)] = (labels, bool(m.group(3)), bool(m.group(4)), m.group(5) or "Void")
    return found
adopters = 0
for proto in ("ApduTransport",):
    start = generated.index(f"public protocol {proto}:")
    wanted = methods_of(generated[start:generated.index("\n}", start)])
    for path in sources:
        text = open(path, encoding="utf-8").read()
        for cls in re.finditer(r"(?:public\s+)?(?:final\s+)?class\s+(\w+)\s*:[^{]*\b" + proto + r"\b[^{]*\{", text):
            adopters += 1
            body = text[cls.end():]
            have = methods_of(body)
            for name, sig in wanted.items():
                where = f"{path[len(root) + 1:]}: {cls.group(1)}"
                if name not in have:
                    problems.append(f"{where} does not implement {proto}.{name}")
                elif have[name] != sig:
                    problems.append(f"{where}.{name} is {have[name]}, the bindings say {sig}")
if adopters == 0:
    problems.append("no class adopts ApduTransport (ios/Sources/CitizenCoreKit/NfcIso7816ApduTransport.swift)")

# 6. The BLE adapters of the in-person presentation (issue 13): every class that adopts the core's
#    `MdocTransport`, or is marked `// implements MdocTransport` until the presentation FFI puts the
#    trait in the generated bindings, implements its methods with the trait's labels, async/throws
#    and return type (from the generated protocol when present, else the trait as specified);
#    both directions are present; NSBluetoothAlwaysUsageDescription is declared and localized.
MDOC_TRANSPORT = {"maxFrameSize": ([], False, False, "Int32"), "sendFrame": (["frame"], True, True, "Void"),
                  "receiveFrame": ([], True, True, "Data"), "close": ([], True, False, "Void")}
if "public protocol MdocTransport" in generated:
    start = generated.index("public protocol MdocTransport")
    MDOC_TRANSPORT = methods_of(generated[start:generated.index("\n}", start)])
ble = []
for path in sources:
    text = open(path, encoding="utf-8").read()
    for cls in re.finditer(r"(// implements MdocTransport[^\n]*\n)?(?:@\w+(?:\([^)]*\))?\s+)*(?:public\s+)?(?:final\s+)?class\s+(\w+)\s*:([^{]*)\{", text):
        if not (cls.group(1) or re.search(r"\bMdocTransport\b", cls.group(3))):
            continue
        ble.append(cls.group(2))
        body = text[cls.end():]
        nxt = re.search(r"\n(?:public\s+)?(?:final\s+)?class\s", body)
        have = methods_of(body[:nxt.start()] if nxt else body)
        for name, sig in MDOC_TRANSPORT.items():
            where = f"{path[len(root) + 1:]}: {cls.group(2)}"
            if name not in have:
                problems.append(f"{where} does not implement MdocTransport.{name}")
            elif have[name] != sig:
                problems.append(f"{where}.{name} is {have[name]}, the trait says {sig}")
for wanted in ("BleMdocHolderTransport", "BleMdocReaderTransport"):
    if wanted not in ble:
        problems.append(f"{wanted} (ios/Sources/CitizenCoreKit) is missing or not marked as an MdocTransport")
if not re.search(r"^\s*NSBluetoothAlwaysUsageDescription:\s*\S", project, re.M):
    problems.append("CitizenApp/project.yml: NSBluetoothAlwaysUsageDescription is missing")
for lang in ("vi", "en"):
    info = open(f"{app}/Resources/{lang}.lproj/InfoPlist.strings", encoding="utf-8").read()
    if not re.search(r'^"NSBluetoothAlwaysUsageDescription" = "[^"]+";$', info, re.M):
        problems.append(f"Resources/{lang}.lproj/InfoPlist.strings: NSBluetoothAlwaysUsageDescription is missing")

if problems:
    print("ios/check.sh: FAILED", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"ios/check.sh: {calls} calls on the core and its sub-clients match the generated Swift API (names, labels, await, try); vi/en strings complete "
      f"({len(keys['vi'])} keys); NFC AID, entitlement and usage text present; {adopters} ApduTransport adopter(s) match the "
      f"bindings; {len(ble)} BLE MdocTransport adapter(s) match the trait; Bluetooth usage text present. No Swift was compiled.", file=sys.stderr)
PY
