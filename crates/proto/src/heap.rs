//! What a parser holds on the heap, for the application-layer memcap.
//!
//! Parsers bound every list and string they keep; this counts what they
//! hold right now, by capacity (what the allocator gave, not what is used),
//! so the sensor can cap the total across all flows.

use std::collections::VecDeque;

/// Heap bytes owned by a value, beyond its inline size.
pub trait HeapSize {
    fn heap_size(&self) -> usize;
}

impl HeapSize for String {
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl HeapSize for u8 {
    fn heap_size(&self) -> usize {
        0
    }
}

impl HeapSize for u16 {
    fn heap_size(&self) -> usize {
        0
    }
}

impl HeapSize for u64 {
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_size(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_size)
    }
}

impl<T: HeapSize> HeapSize for Box<T> {
    fn heap_size(&self) -> usize {
        std::mem::size_of::<T>() + (**self).heap_size()
    }
}

impl<A: HeapSize, B: HeapSize> HeapSize for (A, B) {
    fn heap_size(&self) -> usize {
        self.0.heap_size() + self.1.heap_size()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_size(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(T::heap_size).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for VecDeque<T> {
    fn heap_size(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(T::heap_size).sum::<usize>()
    }
}

/// Implements [`HeapSize`] for a struct as the sum of the listed fields.
#[macro_export]
macro_rules! heap_size_of_fields {
    ($t:ty: $($f:ident),* $(,)?) => {
        impl $crate::heap::HeapSize for $t {
            fn heap_size(&self) -> usize {
                0 $(+ $crate::heap::HeapSize::heap_size(&self.$f))*
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_capacity_recursively() {
        let v: Vec<String> = vec![String::with_capacity(10), String::with_capacity(20)];
        assert_eq!(
            v.heap_size(),
            v.capacity() * std::mem::size_of::<String>() + 30
        );
        let o: Option<(String, Vec<u8>)> = Some((String::with_capacity(3), Vec::with_capacity(5)));
        assert_eq!(o.heap_size(), 8);
    }
}
