//! Property test of [`RunConfig::from_toml`] over random and adversarial
//! overrides and TOML snippets: it never panics, and it either returns a
//! configuration that validates and survives a round trip, or an error
//! that names a setting, the file or the override to blame.
use super::config::{ConfigError, RunConfig};
use proptest::prelude::*;

const ORIGIN: &str = "fuzz.toml";

/// Real keys (so that values reach the checks) and a few near misses.
const KEYS: &[&str] = &[
    "train.lr",
    "train.epochs",
    "train.batch_size",
    "train.warmup_epochs",
    "train.grad_clip",
    "train.threads",
    "train.seed",
    "train.schedule",
    "train.schedule.kind",
    "train.schedule.gamma",
    "train.schedule.step_size",
    "train.schedule.min_lr",
    "train.optimizer.beta1",
    "train.optimizer.beta2",
    "train.optimizer.eps",
    "train.optimizer.weight_decay",
    "train.loss",
    "train.precision",
    "data.train",
    "data.test",
    "data.test_fraction",
    "data.max_train_samples",
    "data.reduced_resolution",
    "data.reduced_batch",
    "data.test_at",
    "model.width",
    "model.layers",
    "model.modes",
    "model.lifting_ratio",
    "model.padding",
    "model.activation",
    "model.factorization",
    "model.rank",
    "task.kind",
    "task.initial_step",
    "task.backprop_steps",
    "physics.w_data",
    "physics.w_pde",
    "physics.pde",
    "physics.pde.kind",
    "physics.pde.nu",
    "physics.time_order",
    "physics.pde_resolution",
    "physics.unlabelled_samples",
    "train",
    "epochs",
    "train.epoch",
    "train..lr",
    "data.train.x",
];

/// Values that have broken parsers before, and some that should pass.
const VALUES: &[&str] = &[
    "nan",
    "-nan",
    "inf",
    "-inf",
    "0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "1e-3",
    "1e308",
    "1e-320",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "\"x\"",
    "''",
    "true",
    "[]",
    "[0]",
    "[4, 4]",
    "[nan]",
    "{}",
    "{kind=\"cosine\",min_lr=nan}",
    "{kind=\"step\",step_size=0,gamma=0.5}",
    "{kind=\"constant\"}",
    "{kind=\"autoregressive\",initial_step=0}",
    "cosine",
    "space_time",
    "bf16",
    "fp16",
    "=",
    "[[",
    "'unterminated",
    "\"\\u0000\"",
    "1979-05-27",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(VALUES).prop_map(str::to_string),
        1 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => "\\PC{0,12}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_.]{0,16}",
    ]
}

fn override_item() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => "\\PC{0,20}",
    ]
}

/// A config text: a training file and random `key = value` lines under
/// random section headers, or random text.
fn text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(&["[train]", "[data]", "[model]", "[physics]", "[task]", "[train.schedule]"][..])
            .prop_map(str::to_string),
        1 => "\\PC{0,20}",
    ];
    prop_oneof![
        4 => prop::collection::vec(line, 0..6)
            .prop_map(|lines| format!("[data]\ntrain = \"a.h5\"\n{}\n", lines.join("\n"))),
        1 => "\\PC{0,40}",
    ]
}

/// Whether `err` names what to fix: the setting, the file or the override.
fn names_its_cause(err: &ConfigError, overrides: &[String]) -> bool {
    let message = err.to_string();
    match err {
        ConfigError::Parse { origin, .. } => origin == ORIGIN && message.contains("line"),
        ConfigError::BadOverride { given } => overrides.contains(given),
        ConfigError::Override { given, .. } => {
            !given.is_empty() && given.iter().all(|g| overrides.contains(g))
        }
        ConfigError::Invalid { field, .. } => {
            let (section, key) = field.split_once('.').unwrap_or((field, ""));
            ["data", "task", "model", "train", "physics"].contains(&section)
                && (key.is_empty() || message.contains(field))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn from_toml_accepts_valid_configs_or_names_the_cause(
        text in text(),
        overrides in prop::collection::vec(override_item(), 0..4),
    ) {
        match RunConfig::from_toml(&text, ORIGIN, &overrides) {
            Ok(cfg) => {
                prop_assert!(cfg.validate().is_ok());
                let again = RunConfig::from_toml(&cfg.to_toml(), "saved", &[]);
                prop_assert_eq!(again.ok(), Some(cfg));
            }
            Err(err) => prop_assert!(names_its_cause(&err, &overrides), "{:?} from {:?} with {:?}", err, text, overrides),
        }
    }
}
