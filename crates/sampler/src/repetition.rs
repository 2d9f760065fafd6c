//! llama.cpp's optional repetition-loop cut (../shared/spec/sampler.md §5): a block is cut
//! where one token starts repeating at stride 1 or 2 at least six times.

/// How many occurrences at a fixed stride count as a loop.
const MIN_REPEATS: usize = 6;

/// The first position `i` such that `tokens[i] == tokens[i + s] == … == tokens[i + 5s]` for
/// stride `s` of 1 or 2, or `None` when the block has no such loop.
pub fn repetition_loop_start(tokens: &[u32]) -> Option<usize> {
    (0..tokens.len()).find(|&i| {
        [1usize, 2].iter().any(|&s| {
            let last = i + (MIN_REPEATS - 1) * s;
            last < tokens.len() && (1..MIN_REPEATS).all(|k| tokens[i + k * s] == tokens[i])
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_stride_one_and_two_loops() {
        assert_eq!(repetition_loop_start(&[1, 2, 3, 4]), None);
        assert_eq!(repetition_loop_start(&[1, 7, 7, 7, 7, 7, 7, 2]), Some(1));
        assert_eq!(repetition_loop_start(&[1, 7, 7, 7, 7, 7, 2]), None, "five is not a loop");
        assert_eq!(repetition_loop_start(&[9, 9, 1, 5, 2, 5, 3, 5, 4, 5, 6, 5, 8, 5]), Some(3));
        assert_eq!(repetition_loop_start(&[4, 8, 4, 8, 4, 8, 4, 8, 4, 8, 4, 8]), Some(0));
    }
}
