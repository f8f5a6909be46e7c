//! The federation's Rust side, which the Flower app calls: `keys new` gives a site its key
//! pair; `aggregate` verifies the sites' replies of a round and merges the accepted ones into
//! the global adapter. All tensor math and every check is here; the app only moves files.

mod reply;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rapha_federation::signing::{self, PublicKey, SiteKey};
use rapha_federation::{Contribution, Strategy, delta};
use serde_json::json;

use crate::args::{AggregateArgs, AggregateStrategy, KeysNewArgs, ReplyArg};
use crate::atomic;
use reply::{Expected, Reply};

/// `rapha-host keys new --site NAME --out DIR`.
pub fn keys_new(args: &KeysNewArgs) -> anyhow::Result<()> {
    if !signing::is_site_name(&args.site) {
        bail!("--site `{}`: expected {}", args.site, signing::SITE_NAME_RULE);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let (secret, public) = SiteKey::generate(&args.site)?.save(&args.out)?;
    println!(
        "wrote `{}` (secret: stays at the site, the recipe's `federation.key`) and `{}` (give it to the server)",
        secret.display(),
        public.display()
    );
    Ok(())
}

/// `rapha-host aggregate REPLY… --out DIR …`.
pub fn aggregate(args: &AggregateArgs) -> anyhow::Result<()> {
    let trusted = public_keys(&args.keys)?;
    let expected = Expected { round: args.round, model_sha256: &args.model_sha256, plugin_sha256: &args.plugin_sha256, sites: &args.sites };
    let (mut accepted, mut refused): (Vec<Reply>, Vec<(PathBuf, String)>) = (Vec::new(), Vec::new());
    for ReplyArg { site, dir } in &args.replies {
        match reply::read(dir, site.as_deref(), &expected, &trusted) {
            Ok(reply) if accepted.iter().any(|r| r.site == reply.site) => {
                refused.push((dir.clone(), format!("a second reply from site `{}` in this round", reply.site)));
            }
            Ok(reply) => accepted.push(reply),
            Err(error) => refused.push((dir.clone(), format!("{error:#}"))),
        }
    }
    for (dir, reason) in &refused {
        eprintln!("refused the reply `{}`: {reason}", dir.display());
    }
    if accepted.len() < args.min_sites {
        bail!("round {}: {} accepted replies, the round needs at least {} (--min-sites)", args.round, accepted.len(), args.min_sites);
    }
    // In site order, not arrival order: the same replies give the same global adapter to the
    // bit (float sums depend on their order) and the same summary.
    accepted.sort_by(|a, b| a.site.cmp(&b.site));
    let contributions: Vec<Contribution<'_>> =
        accepted.iter().map(|r| Contribution { site: &r.site, adapter: &r.adapter, examples: r.examples }).collect();
    let strategy = match args.strategy {
        AggregateStrategy::Ffa => Strategy::Ffa,
        AggregateStrategy::Fedit => Strategy::FedIt,
        AggregateStrategy::Stack => Strategy::Stack,
    };
    let global = rapha_federation::aggregate(strategy, &contributions)?;
    let error = delta::relative_error(&global, &contributions)?;
    let strategy_name = format!("{:?}", args.strategy).to_lowercase();
    let summary = json!({
        "round": args.round,
        "strategy": strategy_name,
        "sites": accepted
            .iter()
            .map(|r| json!({"site": r.site, "examples": r.examples, "start": r.metrics["base"], "trained": r.metrics["adapter"]}))
            .collect::<Vec<_>>(),
        "over_sites": {"start": over_sites(&accepted, "base"), "trained": over_sites(&accepted, "adapter")},
        "refused": refused.iter().map(|(dir, reason)| json!({"reply": dir.display().to_string(), "reason": reason})).collect::<Vec<_>>(),
        "relative_error": error,
    });
    write_global(&args.out, &global, &summary)?;
    let sites: Vec<String> = accepted.iter().map(|r| format!("{} ({} examples)", r.site, r.examples)).collect();
    println!(
        "round {}: {} of {} replies aggregated by {} from {}; ‖ΔW − mean ΔW‖ / ‖mean ΔW‖ = {error:.2e}; global adapter in `{}`",
        args.round,
        accepted.len(),
        args.replies.len(),
        strategy_name,
        sites.join(", "),
        args.out.display()
    );
    Ok(())
}

/// For each metric every site reports in `column` of its test table, the minimum over sites
/// and the harmonic mean: the weakest site is what a federation is judged by.
fn over_sites(replies: &[Reply], column: &str) -> serde_json::Value {
    let Some(first) = replies.first().and_then(|r| r.metrics[column].as_object()) else {
        return json!({});
    };
    let mut found = serde_json::Map::new();
    for name in first.keys() {
        let values: Option<Vec<f64>> = replies.iter().map(|r| r.metrics[column][name].as_f64()).collect();
        let Some(values) = values else { continue };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let harmonic = if min <= 0.0 { 0.0 } else { values.len() as f64 / values.iter().map(|v| 1.0 / v).sum::<f64>() };
        found.insert(name.clone(), json!({"min": min, "harmonic_mean": harmonic}));
    }
    serde_json::Value::Object(found)
}

/// Every `*.pub.json` in `dir`.
fn public_keys(dir: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("--keys: cannot list `{}`", dir.display()))?;
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("--keys: cannot list `{}`", dir.display()))?.path();
        if path.file_name().is_some_and(|name| name.to_string_lossy().ends_with(".pub.json")) {
            keys.push(PublicKey::load(&path)?);
        }
    }
    if keys.is_empty() {
        bail!("--keys: `{}` holds no public key (`NAME.pub.json`, from `rapha-host keys new`)", dir.display());
    }
    Ok(keys)
}

/// The global adapter, `aggregate.json` and `aggregate.txt` into `out`, all or nothing: written into a
/// temporary folder beside it, then renamed into place. `out` must be new or empty.
fn write_global(out: &Path, global: &rapha_engine::PeftAdapter, summary: &serde_json::Value) -> anyhow::Result<()> {
    if out.exists() && std::fs::read_dir(out).with_context(|| format!("--out: cannot list `{}`", out.display()))?.next().is_some() {
        bail!("--out: `{}` is not empty (a global adapter is never overwritten)", out.display());
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let staging = tempfile::Builder::new().prefix(".aggregate-").tempdir_in(parent).with_context(|| format!("cannot write in `{}`", parent.display()))?;
    global.save(staging.path())?;
    atomic::write(&staging.path().join("aggregate.json"), (serde_json::to_string_pretty(summary)? + "\n").as_bytes())?;
    atomic::write(&staging.path().join("aggregate.txt"), report::text(summary).as_bytes())?;
    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("cannot replace the empty `{}`", out.display()))?;
    }
    std::fs::rename(staging.keep(), out).with_context(|| format!("cannot move the global adapter into `{}`", out.display()))
}
