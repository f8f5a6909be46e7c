"""Read cargo's JSON messages on stdin; print the workspace's own warnings and
fail if there are any. Dependencies' warnings are not ours to fix."""
import json
import sys

warnings = 0
failed = False
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        continue
    if msg.get("reason") == "build-finished":
        failed = not msg.get("success", False)
    if msg.get("reason") != "compiler-message":
        continue
    if "/registry/" in msg.get("manifest_path", "") or "/git/checkouts/" in msg.get("manifest_path", ""):
        continue
    diagnostic = msg["message"]
    if diagnostic.get("level") in ("warning", "error"):
        sys.stderr.write(diagnostic.get("rendered") or diagnostic.get("message", ""))
        warnings += diagnostic["level"] == "warning"
if warnings:
    sys.exit(f"{warnings} warning(s) in the workspace's own crates")
if failed:
    sys.exit("the build failed")
