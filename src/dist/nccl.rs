//! NCCL for the device buffers of a CUDA job (feature `nccl`): one
//! process per GPU, NCCL's id handed out over the job's own communicator
//! (MPI), the sum all-reduce enqueued on candle's stream so that it runs
//! after the backward pass that produced the gradients and before the
//! optimiser step that reads them.
//!
//! NCCL refuses two ranks on one GPU ("Duplicate GPU detected"), so the
//! ranks first compare their GPUs' UUIDs; any shared GPU, or NCCL failing
//! to start on any rank, leaves the job on its MPI communicator.
use super::{Communicator, Watch};
use crate::cuda;
use candle_core::{CudaDevice, DType, Device, Tensor};
use cudarc::nccl::safe::{Comm, Id, ReduceOp};
use std::time::{Duration, Instant};

/// A job's communicator whose sums of CUDA tensors run on NCCL; every
/// other collective is the wrapped communicator's.
pub struct NcclOver<'a> {
    inner: &'a dyn Communicator,
    comm: Comm,
    device: CudaDevice,
}

/// The name errors of the sum give it.
const OP: &str = "NCCL all-reduce";

/// Bytes in NCCL's unique id.
const ID_BYTES: usize = 128;

impl<'a> NcclOver<'a> {
    /// Joins the ranks of `inner`, each on its own GPU `device`, into one
    /// NCCL communicator; every rank must call it. At world size 1 it makes
    /// NCCL's communicator of one, whose sums must equal their input, and
    /// training through it must equal training without it: the check of
    /// this path on a machine with a single GPU.
    ///
    /// # Errors
    ///
    /// Why NCCL cannot carry this job, in the user's terms: a GPU shared by
    /// two ranks, a device that is not CUDA, NCCL failing on some rank.
    /// Every rank reaches the same decision.
    pub fn join(inner: &'a dyn Communicator, device: &Device) -> Result<Self, String> {
        join(inner, device)
    }
}

fn join<'a>(inner: &'a dyn Communicator, device: &Device) -> Result<NcclOver<'a>, String> {
    let cuda = match device {
        Device::Cuda(cuda) => cuda.clone(),
        other => {
            return Err(format!(
                "NCCL needs a CUDA device, not {:?}",
                other.location()
            ))
        }
    };
    refuse_shared_gpus(inner, &cuda)?;
    let id = shared_id(inner)?;
    let stream = cuda.cuda_stream();
    let made = stream
        .context()
        .bind_to_thread()
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Comm::from_rank(stream.clone(), inner.rank(), inner.size(), id)
                .map_err(|e| format!("{e:?}"))
        });
    let mut failed = [f64::from(u8::from(made.is_err()))];
    inner.all_reduce_sum_f64(&mut failed);
    match made {
        Ok(comm) if failed[0] == 0.0 => Ok(NcclOver {
            inner,
            comm,
            device: cuda,
        }),
        Ok(_) => Err(format!(
            "NCCL could not start on {} of the {} ranks",
            failed[0],
            inner.size()
        )),
        Err(why) => Err(format!(
            "NCCL could not start on rank {}: {why}",
            inner.rank()
        )),
    }
}

/// Fails, naming two ranks and the GPU, when two ranks drive one GPU.
fn refuse_shared_gpus(inner: &dyn Communicator, cuda: &CudaDevice) -> Result<(), String> {
    let uuid = cuda
        .cuda_stream()
        .context()
        .uuid()
        .map_err(|e| format!("the GPU's UUID could not be read: {e}"))?;
    // Sixteen bytes as sixteen exact f64s: the gather carries f64 only.
    let mine: Vec<f64> = uuid.bytes.iter().map(|&b| f64::from(b as u8)).collect();
    let all = inner.all_gather_f64(&mine);
    for (a, first) in all.iter().enumerate() {
        if let Some(b) = (a + 1..all.len()).find(|&b| all[b] == *first) {
            return Err(format!(
                "ranks {a} and {b} drive the same GPU, which NCCL refuses"
            ));
        }
    }
    Ok(())
}

/// Rank 0's NCCL id on every rank, or why rank 0 could not make one.
fn shared_id(inner: &dyn Communicator) -> Result<Id, String> {
    let mut message = vec![0.0f64; ID_BYTES + 1];
    let made = if inner.is_root() {
        let made = Id::new().map_err(|e| format!("{e:?}"));
        if let Ok(id) = &made {
            message[0] = 1.0;
            for (slot, &byte) in message[1..].iter_mut().zip(id.internal()) {
                *slot = f64::from(byte);
            }
        }
        Some(made)
    } else {
        None
    };
    inner.broadcast_f64(0, &mut message);
    match made {
        Some(Err(why)) => Err(format!("NCCL could not make its id on rank 0: {why}")),
        _ if message[0] == 0.0 => Err("NCCL could not make its id on rank 0".into()),
        _ => {
            let mut internal = [0 as std::ffi::c_char; ID_BYTES];
            for (byte, &value) in internal.iter_mut().zip(&message[1..]) {
                // Each value came from one c_char, so the cast is exact.
                *byte = value as std::ffi::c_char;
            }
            Ok(Id::uninit(internal))
        }
    }
}

impl NcclOver<'_> {
    /// Waits for the stream's work so far (the all-reduce) to finish; past
    /// the watch's deadline a peer stopped answering: report and end the
    /// job, as the MPI collectives do.
    fn wait(&self, watch: Option<Watch>) -> candle_core::Result<()> {
        let stream = self.device.cuda_stream();
        let Some(watch) = watch else {
            return stream.synchronize().map_err(candle_core::Error::wrap);
        };
        let done = stream
            .record_event(None)
            .map_err(candle_core::Error::wrap)?;
        let started = Instant::now();
        while !done.is_complete() {
            if started.elapsed() > watch.timeout {
                (watch.report)(&format!(
                    "rank {} of {}: an NCCL all-reduce waited {} s for the other ranks: one stopped answering (the limit is FNO_MPI_TIMEOUT)",
                    self.inner.rank(),
                    self.inner.size(),
                    watch.timeout.as_secs()
                ));
                self.inner.abort(2);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }
}

impl Communicator for NcclOver<'_> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_reduce_sum_f32(&self, send: &[f32]) -> Vec<f32> {
        self.inner.all_reduce_sum_f32(send)
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        self.inner.all_reduce_sum_f64(buf);
    }
    fn broadcast_f64(&self, root: usize, buf: &mut [f64]) {
        self.inner.broadcast_f64(root, buf);
    }
    fn all_gather_f64(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        self.inner.all_gather_f64(mine)
    }
    fn abort(&self, code: i32) -> ! {
        self.inner.abort(code)
    }
    fn watch(&self) -> Option<Watch> {
        self.inner.watch()
    }
    fn backend(&self, device: &Device) -> &'static str {
        if device.same_device(&Device::Cuda(self.device.clone())) {
            "nccl"
        } else {
            self.inner.backend(device)
        }
    }

    fn all_reduce_sum_tensor(&self, flat: &Tensor) -> candle_core::Result<Tensor> {
        let on_our_gpu = flat
            .device()
            .same_device(&Device::Cuda(self.device.clone()));
        if !on_our_gpu || flat.dtype() != DType::F32 {
            return self.inner.all_reduce_sum_tensor(flat);
        }
        let len = flat.dims1()?;
        let flat = flat.contiguous()?;
        let (storage, layout) = flat.storage_and_layout();
        let send = cuda::view::<f32>(OP, cuda::cuda_of(OP, &storage)?, layout)?;
        let stream = self.device.cuda_stream();
        let mut sum = stream
            .alloc_zeros::<f32>(len)
            .map_err(candle_core::Error::wrap)?;
        self.comm
            .all_reduce(&send, &mut sum, &ReduceOp::Sum)
            .map_err(|e| candle_core::Error::Msg(format!("NCCL all-reduce: {e:?}")))?;
        self.wait(self.inner.watch())?;
        Ok(cuda::tensor(&self.device, sum, &[len]))
    }
}
