"""schemathesis extensions for tests/openapi_conformance.rs (loaded through SCHEMATHESIS_HOOKS).

The model upload's `manifest` part may be sent as `application/toml` (the manifest is TOML text),
a media type schemathesis has no serializer for: without one it stops the operation's fuzzing
with "Serialization not possible" instead of sending the request. TOML is text, so it is sent as
schemathesis sends `text/plain`.
"""

import schemathesis

schemathesis.serializer.alias("application/toml", "text/plain")
