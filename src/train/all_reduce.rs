//! Summing a step's gradients over the processes of a data-parallel job in
//! one collective call.
//!
//! Each rank's loss is already scaled by its share of the global batch, so
//! the sum of the ranks' gradients is the gradient of the global batch's
//! loss. All gradients travel in one flat f32 buffer (one all-reduce per
//! step, not one per tensor), with a presence flag per variable, so that a
//! variable no rank differentiated stays without a gradient (and AdamW
//! leaves it alone, as on one process), and the step's loss as the last
//! element. Gradients on the CPU travel as one host vector; gradients on
//! a GPU are packed into one device tensor, which NCCL sums where it runs
//! (or the communicator stages through host memory in one copy each way).
use crate::dist::Communicator;
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Storage, Tensor, Var};

/// Replaces `grads` (this rank's, possibly empty when its part of the
/// batch was) by the sum over ranks, and returns the summed `loss`. On one
/// process it changes nothing.
pub(crate) fn all_reduce_gradients(
    comm: &dyn Communicator,
    grads: &mut GradStore,
    vars: &[Var],
    loss: f64,
) -> Result<f64> {
    let device = vars.first().map(|var| var.device());
    // One process adds nothing, unless NCCL was asked to carry even that
    // (its check on a single GPU).
    let alone = comm.size() == 1 && device.is_none_or(|d| comm.backend(d) != "nccl");
    match device {
        _ if alone => Ok(loss),
        Some(d) if !d.is_cpu() => sum_on_device(comm, grads, vars, loss),
        _ => sum_on_host(comm, grads, vars, loss),
    }
}

/// The sum with every gradient copied once into one host vector; the
/// summed gradients come back as views of the summed vector, so the only
/// copies a step makes are this packing and MPI's own.
fn sum_on_host(
    comm: &dyn Communicator,
    grads: &mut GradStore,
    vars: &[Var],
    loss: f64,
) -> Result<f64> {
    let total: usize = vars.iter().map(|v| v.elem_count() + 1).sum();
    let mut send = Vec::with_capacity(total + 1);
    for var in vars {
        match grads.get(var) {
            Some(g) => {
                send.push(1.0f32);
                extend_with(&mut send, g)?;
            }
            None => {
                send.push(0.0);
                send.resize(send.len() + var.elem_count(), 0.0);
            }
        }
    }
    send.push(loss as f32);
    let sum = comm.all_reduce_sum_f32(&send);
    drop(send);
    let mut flags = Vec::with_capacity(vars.len());
    let mut at = 0;
    for var in vars {
        flags.push(sum[at] > 0.0);
        at += var.elem_count() + 1;
    }
    let summed_loss = f64::from(sum[at]);
    let summed = Tensor::from_vec(sum, total + 1, &candle_core::Device::Cpu)?;
    let mut at = 0;
    for (var, present) in vars.iter().zip(flags) {
        let n = var.elem_count();
        grads.remove(var);
        if present {
            let g = summed
                .narrow(0, at + 1, n)?
                .reshape(var.shape())?
                .to_dtype(var.dtype())?
                .to_device(var.device())?;
            grads.insert(var, g);
        }
        at += n + 1;
    }
    Ok(summed_loss)
}

/// Appends the elements of `g` to `buf` as f32: straight from its storage
/// when it is a contiguous f32 tensor in host memory (a gradient almost
/// always is), through a converted copy otherwise.
fn extend_with(buf: &mut Vec<f32>, g: &Tensor) -> Result<()> {
    if g.dtype() == DType::F32 {
        let (storage, layout) = g.storage_and_layout();
        if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            buf.extend_from_slice(&cpu.as_slice::<f32>()?[start..end]);
            return Ok(());
        }
    }
    buf.extend(g.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?);
    Ok(())
}

/// The sum with every gradient packed into one f32 tensor on the
/// variables' device, in the host path's layout; the summed gradients come
/// back as views of the summed tensor.
fn sum_on_device(
    comm: &dyn Communicator,
    grads: &mut GradStore,
    vars: &[Var],
    loss: f64,
) -> Result<f64> {
    let Some(first) = vars.first() else {
        return Ok(loss);
    };
    let device = first.device();
    let flag = |present: bool| Tensor::new(&[f32::from(u8::from(present))], device);
    let mut parts = Vec::with_capacity(2 * vars.len() + 1);
    for var in vars {
        match grads.get(var) {
            Some(g) => {
                parts.push(flag(true)?);
                parts.push(g.flatten_all()?.to_dtype(DType::F32)?);
            }
            None => {
                parts.push(flag(false)?);
                parts.push(Tensor::zeros(var.elem_count(), DType::F32, device)?);
            }
        }
    }
    parts.push(Tensor::new(&[loss as f32], device)?);
    let summed = comm.all_reduce_sum_tensor(&Tensor::cat(&parts, 0)?)?;
    // The flags and the loss in one read, rather than one per variable.
    let mut flags = Vec::with_capacity(vars.len());
    let mut at = 0;
    for var in vars {
        flags.push(at);
        at += var.elem_count() + 1;
    }
    flags.push(at);
    let index = Tensor::from_vec(
        flags.iter().map(|&i| i as u32).collect::<Vec<_>>(),
        flags.len(),
        device,
    )?;
    let scalars = summed.index_select(&index, 0)?.to_vec1::<f32>()?;
    for ((var, &start), &present) in vars.iter().zip(&flags).zip(&scalars) {
        grads.remove(var);
        if present > 0.0 {
            let g = summed
                .narrow(0, start + 1, var.elem_count())?
                .reshape(var.shape())?
                .to_dtype(var.dtype())?;
            grads.insert(var, g);
        }
    }
    Ok(f64::from(scalars[vars.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Two ranks that hold the same gradients: every sum doubles.
    struct Twins;

    impl Communicator for Twins {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn all_reduce_sum_f32(&self, send: &[f32]) -> Vec<f32> {
            send.iter().map(|v| v * 2.0).collect()
        }
        fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
            buf.iter_mut().for_each(|v| *v *= 2.0);
        }
        fn broadcast_f64(&self, _root: usize, _buf: &mut [f64]) {}
        fn all_gather_f64(&self, mine: &[f64]) -> Vec<Vec<f64>> {
            vec![mine.to_vec(), mine.to_vec()]
        }
        fn abort(&self, code: i32) -> ! {
            std::process::exit(code)
        }
    }

    fn store(vars: &[Var]) -> GradStore {
        let g = |var: &Var, scale: f64| (var.as_tensor().ones_like().unwrap() * scale).unwrap();
        let mut grads = GradStore::default();
        grads.insert(&vars[0], g(&vars[0], 0.5));
        grads.insert(&vars[2], g(&vars[2], -1.5));
        grads
    }

    #[test]
    fn the_device_packing_sums_as_the_host_vector_does() {
        let cpu = Device::Cpu;
        let vars = [
            Var::zeros((2, 3), DType::F32, &cpu).unwrap(),
            Var::zeros(4, DType::F32, &cpu).unwrap(),
            Var::zeros((1, 2, 2), DType::F64, &cpu).unwrap(),
        ];
        let mut host = store(&vars);
        let mut packed = store(&vars);
        let loss_host = sum_on_host(&Twins, &mut host, &vars, 0.25).unwrap();
        let loss_packed = sum_on_device(&Twins, &mut packed, &vars, 0.25).unwrap();
        assert_eq!(loss_host, 0.5);
        assert_eq!(loss_packed, 0.5);
        assert!(packed.get(&vars[1]).is_none(), "no rank differentiated it");
        for (var, want) in [(&vars[0], 1.0), (&vars[2], -3.0)] {
            for grads in [&host, &packed] {
                let g = grads.get(var).unwrap();
                assert_eq!(g.dtype(), var.dtype());
                assert_eq!(g.dims(), var.dims());
                let values = g.flatten_all().unwrap().to_dtype(DType::F64).unwrap();
                assert!(values.to_vec1::<f64>().unwrap().iter().all(|&v| v == want));
            }
        }
    }
}
