//! What the plot tests share: decoding a PNG and checking it is a drawing,
//! and where to put the images.
use std::path::{Path, PathBuf};

/// Decodes a PNG and checks it has the expected size and is not blank:
/// many pixels differ from the white background, in several colours.
pub(super) fn check_png(path: &Path, size: (u32, u32)) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    assert!(!Path::new(&tmp).exists(), "temporary file left behind");
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), size);
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks_exact(channels).collect();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(
        inked > pixels.len() / 50,
        "{}: only {inked} non-white pixels",
        path.display()
    );
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 8,
        "{}: only {} colours",
        path.display(),
        colours.len()
    );
}

/// Where the images go: `FNO_PLOT_DIR` if set, so they can be looked at
/// after the run, otherwise a temporary directory.
pub(super) fn output_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("FNO_PLOT_DIR") {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().to_path_buf();
            (Some(tmp), dir)
        }
    }
}
