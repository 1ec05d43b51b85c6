//! A slab with generations: slots are reused, and a key from a slot's earlier occupant no longer
//! finds anything (smoltcp's `SocketSet`, quinn's `ConnectionHandle`, plus a generation).

/// A slot index and the generation it was issued in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Key {
    /// Packs the key into 62 bits (the top two are left to the caller).
    pub(crate) fn to_u64(self) -> u64 {
        (u64::from(self.generation & 0x3fff_ffff) << 32) | u64::from(self.index)
    }

    /// The inverse of `to_u64`, ignoring the top two bits.
    pub(crate) fn from_u64(v: u64) -> Key {
        Key {
            index: v as u32,
            generation: ((v >> 32) as u32) & 0x3fff_ffff,
        }
    }
}

#[derive(Debug)]
enum Slot<T> {
    Full { generation: u32, value: T },
    Empty { generation: u32 },
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    pub(crate) fn insert(&mut self, value: T) -> Key {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            let generation = match slot {
                Slot::Empty { generation } => (*generation + 1) & 0x3fff_ffff,
                Slot::Full { generation, .. } => *generation, // unreachable: free slots are empty
            };
            *slot = Slot::Full { generation, value };
            return Key { index, generation };
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot::Full {
            generation: 0,
            value,
        });
        Key {
            index,
            generation: 0,
        }
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Full { generation, value }) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(Slot::Full { generation, value }) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// The live key for slot `index`, whatever its generation (for readiness events, which
    /// carry only the index).
    pub(crate) fn key_at(&self, index: u32) -> Option<Key> {
        match self.slots.get(index as usize) {
            Some(Slot::Full { generation, .. }) => Some(Key {
                index,
                generation: *generation,
            }),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Full { generation, .. } if *generation == key.generation => {
                let generation = *generation;
                let Slot::Full { value, .. } = std::mem::replace(slot, Slot::Empty { generation })
                else {
                    return None;
                };
                self.free.push(key.index);
                Some(value)
            }
            _ => None,
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Full { generation, value } => Some((
                Key {
                    index: i as u32,
                    generation: *generation,
                },
                value,
            )),
            Slot::Empty { .. } => None,
        })
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (Key, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Full { generation, value } => Some((
                    Key {
                        index: i as u32,
                        generation: *generation,
                    },
                    value,
                )),
                Slot::Empty { .. } => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(b.index, a.index);
        assert_ne!(b, a);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(Key::from_u64(b.to_u64()), b);
        assert_eq!(slab.key_at(b.index), Some(b));
        assert_eq!(slab.iter().count(), 1);
    }
}
