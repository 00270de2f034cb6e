//! The fno settings neuraloperator 2.0.0's `FNO` cannot reproduce (or that
//! this export does not map); each is refused naming the setting.
use super::ExportError;
use crate::model::{Activation, Factorization, ModelConfig, ModelKind};

/// Refuses the first setting of `model` without an equivalent in
/// neuraloperator 2.0.0's `FNO(...)` keyword arguments.
pub fn check_supported(model: &ModelConfig) -> Result<(), ExportError> {
    if model.kind != ModelKind::Fno {
        return Err(ExportError::Unsupported {
            setting: "model.kind",
            value: "unet".into(),
            reason: "the export writes neuraloperator's FNO; a U-Net has no Fourier blocks \
                     to map onto it"
                .into(),
        });
    }
    if model.padding.iter().any(|&f| f > 0.0) {
        return Err(ExportError::Unsupported {
            setting: "model.padding",
            value: format!("{:?}", model.padding),
            reason: "neuraloperator's DomainPadding pads round(f * n) zeros on both ends of \
                     an axis, fno round(f * n) on the right end only, so the padded domains \
                     differ in length; retrain with no padding to export"
                .into(),
        });
    }
    if model.factorization != Factorization::Dense {
        return Err(ExportError::Unsupported {
            setting: "model.factorization",
            value: format!("{:?}", model.factorization).to_lowercase(),
            reason: match model.factorization {
                Factorization::PerAxis => {
                    "neuraloperator 2.0.0's FNO has no per-axis (F-FNO) spectral convolution"
                }
                _ => {
                    "neuraloperator's TFNO keeps its Tucker weights as tensorly-torch \
                     factorized tensors, whose layout this export does not write; only \
                     dense spectral weights are exported"
                }
            }
            .into(),
        });
    }
    if model.activation != Activation::Gelu {
        return Err(ExportError::Unsupported {
            setting: "model.activation",
            value: format!("{:?}", model.activation).to_lowercase(),
            reason: "FNO(...) takes its non-linearity as a Python function, which a JSON of \
                     keyword arguments cannot carry; only its default, GELU, is exported"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(model: ModelConfig) -> &'static str {
        match check_supported(&model) {
            Err(ExportError::Unsupported { setting, .. }) => setting,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn padding_factorizations_and_other_activations_are_refused() {
        let base = ModelConfig::default();
        check_supported(&base).unwrap();
        // Zero padding is no padding.
        check_supported(&ModelConfig {
            dims: 2,
            modes: vec![4, 4],
            padding: vec![0.0, 0.0],
            ..base.clone()
        })
        .unwrap();
        let padded = ModelConfig {
            padding: vec![0.25],
            ..base.clone()
        };
        assert_eq!(refused(padded), "model.padding");
        let unet = ModelConfig {
            kind: ModelKind::Unet,
            ..base.clone()
        };
        assert_eq!(refused(unet), "model.kind");
        for factorization in [Factorization::Tucker, Factorization::PerAxis] {
            let cfg = ModelConfig {
                factorization,
                ..base.clone()
            };
            assert_eq!(refused(cfg), "model.factorization");
        }
        for activation in [Activation::Relu, Activation::Tanh] {
            let cfg = ModelConfig {
                activation,
                ..base.clone()
            };
            assert_eq!(refused(cfg), "model.activation");
        }
    }

    #[test]
    fn the_message_names_setting_and_value() {
        let err = check_supported(&ModelConfig {
            activation: Activation::Tanh,
            ..ModelConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("`model.activation` = tanh cannot"), "{err}");
    }
}
