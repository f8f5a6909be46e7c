"""The site's side: one `rapha-host run` per round, in its lockdown (no network, Landlock).

The SuperNode is the only process of the site that talks to the network. This app writes the
round's global adapter into the site's inbox, runs the binary on the site's recipe (the
SuperNode's `--node-config "recipe=… rapha-host=… inbox=…"`), and replies with the files the
run exported through the egress gate: the signed adapter, its manifest, aggregate metrics.
It reads nothing else of the site.

A round asked again (the SuperLink went away and the federation was started anew) neither
trains twice nor corrupts the site's run: an attempt still running is waited for (its
`run.lock`), a round whose export is complete is sent again as it is, and a run stopped
midway continues with `--resume`.
"""

import fcntl
import subprocess
import tomllib
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from rapha_flower.files import pack, unpack

app = ClientApp()


def round_folder(recipe: Path, key: str, round_: int) -> Path:
    """`<paths.KEY>/round-N`: where `rapha-host run RECIPE --round N` works or exports."""
    with recipe.open("rb") as file:
        paths = tomllib.load(file)["paths"]
    return recipe.parent / paths[key] / f"round-{round_}"


def wait_for_earlier_attempt(work: Path) -> None:
    """Block while an earlier attempt of this round (cut off from the server) still runs:
    `rapha-host run` holds `run.lock` in its work folder for as long as it lives."""
    lock = work / "run.lock"
    if lock.is_file():
        with lock.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX)


@app.train()
def train(msg: Message, context: Context) -> Message:
    node = context.node_config
    recipe = Path(str(node["recipe"])).resolve()
    config = msg.content["round"]
    round_ = int(config["round"])
    command = [str(node["rapha-host"]), "run", str(recipe), "--round", str(round_)]
    if round_ > 1:
        inbox = Path(str(node["inbox"])).resolve() / f"round-{round_}"
        unpack(config, inbox)
        command += ["--global", str(inbox)]
    export = round_folder(recipe, "export", round_)
    work = round_folder(recipe, "work", round_)
    wait_for_earlier_attempt(work)
    if not (export / "manifest.json").is_file():
        if (work / "run.json").is_file():
            command.append("--resume")
        # The run's own messages stay in the site's log; a failure reaches the server as an error.
        subprocess.run(command, check=True)
    reply = ConfigRecord()
    pack(export, reply)
    return Message(RecordDict({"reply": reply}), reply_to=msg)
