"""The server's side: send each round's global adapter, gather the replies, and let
`rapha-host aggregate` verify and merge them (signatures, hashes, shapes: all in Rust).

A reply that fails (a site that crashed) or that `aggregate` refuses is left out, and the
round goes on with the others while at least `min-sites` remain. A federation started again
(after the SuperLink went away) keeps the rounds it completed, whose global adapters are on
disk, and goes on from the first one that is not.
"""

import subprocess
import time
from logging import INFO, WARNING
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from rapha_flower.files import pack, unpack

app = ServerApp()


def wait_for_sites(grid: Grid, wanted: int, minimum: int, timeout: float) -> list[int]:
    """The connected SuperNodes once `wanted` are, or at the timeout if `minimum` are."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= wanted:
            return nodes
        if time.monotonic() > deadline:
            if len(nodes) >= minimum:
                return nodes
            raise RuntimeError(f"{len(nodes)} sites connected, the round needs {minimum}")
        time.sleep(1)


def run_round(grid: Grid, cfg: dict, round_: int, previous: Path | None) -> Path:
    """One round: the global adapter out, the replies in, aggregated into `round-N/global`."""
    out = Path(str(cfg["out"])).resolve() / f"round-{round_}"
    wanted = max(int(cfg["sites"]), int(cfg["min-sites"]))
    nodes = wait_for_sites(grid, wanted, int(cfg["min-sites"]), float(cfg["site-timeout"]))
    record = ConfigRecord({"round": round_})
    if previous is not None:
        pack(previous, record)
    messages = [Message(RecordDict({"round": record}), dst_node_id=node, message_type="train") for node in nodes]
    replies = []
    for reply in grid.send_and_receive(messages, timeout=float(cfg["round-timeout"])):
        node = reply.metadata.src_node_id
        if reply.has_error():
            log(WARNING, "round %d: site node %d failed: %s", round_, node, reply.error.reason)
            continue
        folder = out / "replies" / str(node)
        unpack(reply.content["reply"], folder)
        replies.append(str(folder))
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
    subprocess.run(command, check=True)
    return out / "global"


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    previous = None
    for round_ in range(1, int(cfg["rounds"]) + 1):
        done = Path(str(cfg["out"])).resolve() / f"round-{round_}" / "global"
        if (done / "aggregate.json").is_file():
            log(INFO, "round %d: completed earlier, its global adapter is kept", round_)
            previous = done
            continue
        previous = run_round(grid, cfg, round_, previous)
    log(INFO, "federation done: the global adapter of the last round is in %s", previous)
