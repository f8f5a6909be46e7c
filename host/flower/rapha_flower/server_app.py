"""The server's side: send each round's global adapter, gather the replies, and let
`rapha-host aggregate` verify and merge them (signatures, hashes, shapes: all in Rust).

With `nodes` (a JSON map of registered node id to site, as the SuperNodes were registered
under SuperNode authentication), only registered nodes are sampled, each reply is handed to
`aggregate` as `SITE=DIR` for the site its node was registered for, and `--sites` names the
sampled sites: a reply signed by any other site is refused.

A reply that fails (a site that crashed) or that `aggregate` refuses is left out, and the
round goes on with the others while at least `min-sites` remain. A federation started again
(after the SuperLink went away) keeps the rounds it completed, whose global adapters are on
disk, and goes on from the first one that is not.
"""

import json
import subprocess
import time
from logging import INFO, WARNING
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from rapha_flower.files import pack, unpack

app = ServerApp()


def registered_sites(cfg: dict) -> dict[int, str]:
    """Node id → site from the `nodes` file; empty when the run config names none."""
    path = str(cfg["nodes"])
    if not path:
        return {}
    return {int(node): site for node, site in json.loads(Path(path).read_text()).items()}


def wait_for_sites(grid: Grid, known: dict[int, str], wanted: int, minimum: int, timeout: float) -> list[int]:
    """The connected SuperNodes (the registered ones, where `known`) once `wanted` are, or
    at the timeout if `minimum` are."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(node for node in grid.get_node_ids() if not known or node in known)
        if len(nodes) >= wanted:
            return nodes
        if time.monotonic() > deadline:
            if len(nodes) >= minimum:
                return nodes
            raise RuntimeError(f"{len(nodes)} sites connected, the round needs {minimum}")
        time.sleep(1)


def run_round(grid: Grid, cfg: dict, known: dict[int, str], round_: int, previous: Path | None) -> Path:
    """One round: the global adapter out, the replies in, aggregated into `round-N/global`."""
    out = Path(str(cfg["out"])).resolve() / f"round-{round_}"
    wanted = max(int(cfg["sites"]), int(cfg["min-sites"]))
    nodes = wait_for_sites(grid, known, wanted, int(cfg["min-sites"]), float(cfg["site-timeout"]))
    record = ConfigRecord({"round": round_})
    if previous is not None:
        pack(previous, record)
    messages = [Message(RecordDict({"round": record}), dst_node_id=node, message_type="train") for node in nodes]
    replies = []
    for reply in grid.send_and_receive(messages, timeout=float(cfg["round-timeout"])):
        node = reply.metadata.src_node_id
        site = known.get(node)
        if reply.has_error():
            log(WARNING, "round %d: site %s (node %d) failed: %s", round_, site or "?", node, reply.error.reason)
            continue
        folder = out / "replies" / (site or str(node))
        unpack(reply.content["reply"], folder)
        replies.append(f"{site}={folder}" if site else str(folder))
    log(INFO, "round %d: %d of %d sites replied", round_, len(replies), len(nodes))
    command = [
        str(cfg["rapha-host"]), "aggregate", *replies,
        "--out", str(out / "global"),
        "--keys", str(Path(str(cfg["keys"])).resolve()),
        "--round", str(round_),
        "--strategy", str(cfg["strategy"]),
        "--model-sha256", str(cfg["model-sha256"]),
        "--plugin-sha256", str(cfg["plugin-sha256"]),
        "--min-sites", str(cfg["min-sites"]),
    ]
    if known:
        command += ["--sites", ",".join(known[node] for node in nodes)]
    subprocess.run(command, check=True)
    return out / "global"


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    known = registered_sites(cfg)
    previous = None
    for round_ in range(1, int(cfg["rounds"]) + 1):
        done = Path(str(cfg["out"])).resolve() / f"round-{round_}" / "global"
        if (done / "aggregate.json").is_file():
            log(INFO, "round %d: completed earlier, its global adapter is kept", round_)
            previous = done
            continue
        previous = run_round(grid, cfg, known, round_, previous)
    log(INFO, "federation done: the global adapter of the last round is in %s", previous)
