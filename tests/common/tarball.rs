//! A minimal ustar writer, enough to build the archives that Swift's bulk
//! middleware (`?extract-archive=tar`) turns into objects: regular files
//! with names of at most 100 bytes.

/// Size of a tar header and the unit that file data is padded to.
const BLOCK: usize = 512;

/// Maximum length of a name in the ustar `name` field, used without the
/// `prefix` field.
const NAME_FIELD: usize = 100;

/// An archive being built in memory.
#[derive(Default)]
pub struct Tarball {
    bytes: Vec<u8>,
    files: usize,
}

impl Tarball {
    pub fn new() -> Tarball {
        Tarball::default()
    }

    /// Appends a regular file. Panics when `name` is longer than 100 bytes,
    /// since the tests never need the ustar `prefix` field.
    pub fn add(&mut self, name: &str, content: &[u8]) {
        assert!(
            !name.is_empty() && name.len() <= NAME_FIELD,
            "tar member name must be 1 to {NAME_FIELD} bytes: {name:?}"
        );
        self.bytes.extend_from_slice(&header(name, content.len()));
        self.bytes.extend_from_slice(content);
        let padding = content.len().next_multiple_of(BLOCK) - content.len();
        self.bytes.resize(self.bytes.len() + padding, 0);
        self.files += 1;
    }

    /// Number of files added so far.
    pub fn len(&self) -> usize {
        self.files
    }

    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    /// Returns the finished archive, ended by two zero blocks as tar requires.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.resize(self.bytes.len() + 2 * BLOCK, 0);
        self.bytes
    }
}

fn header(name: &str, size: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    put(&mut block, 0, name.as_bytes());
    put(&mut block, 100, b"0000644\0"); // mode
    put(&mut block, 108, b"0000000\0"); // uid
    put(&mut block, 116, b"0000000\0"); // gid
    put(&mut block, 124, format!("{size:011o}\0").as_bytes());
    put(&mut block, 136, b"00000000000\0"); // mtime: the epoch
    block[156] = b'0'; // regular file
    put(&mut block, 257, b"ustar\0");
    put(&mut block, 263, b"00");

    // The checksum is the byte sum of the header with its own field read
    // as eight spaces, written as six octal digits, NUL and space.
    put(&mut block, 148, b"        ");
    let sum: u32 = block.iter().map(|&byte| u32::from(byte)).sum();
    put(&mut block, 148, format!("{sum:06o}\0 ").as_bytes());
    block
}

fn put(block: &mut [u8; BLOCK], offset: usize, value: &[u8]) {
    block[offset..offset + value.len()].copy_from_slice(value);
}
