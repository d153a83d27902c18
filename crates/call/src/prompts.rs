//! What the call says with prompts of its own: queue announcements with numbers (R-ACD-3).

use std::time::Duration;

/// "You are number N in line. The expected wait is about M minutes." (R-ACD-3)
pub(crate) fn announcement(position: usize, expected: Duration) -> Vec<String> {
    let mut names = vec!["queue_position".to_string()];
    names.extend(number_prompts(position));
    names.push("queue_in_line".into());
    names.push("queue_wait".into());
    let minutes = expected.as_secs().div_ceil(60) as usize;
    if minutes == 0 {
        names.push("less_than_a_minute".into());
    } else {
        names.extend(number_prompts(minutes));
        names.push(if minutes == 1 { "minute" } else { "minutes" }.into());
    }
    names
}

/// The prompts that say `n` (0-199): `num_N` up to twenty, tens plus units above.
pub fn number_prompts(n: usize) -> Vec<String> {
    let n = n.min(199);
    let mut out = Vec::new();
    let mut rest = n;
    if rest >= 100 {
        out.push("num_100".to_string());
        rest -= 100;
        if rest == 0 {
            return out;
        }
    }
    if rest <= 20 {
        out.push(format!("num_{rest}"));
    } else {
        out.push(format!("num_{}", rest / 10 * 10));
        if !rest.is_multiple_of(10) {
            out.push(format!("num_{}", rest % 10));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_said_with_the_prompts_we_have() {
        assert_eq!(number_prompts(0), ["num_0"]);
        assert_eq!(number_prompts(7), ["num_7"]);
        assert_eq!(number_prompts(20), ["num_20"]);
        assert_eq!(number_prompts(21), ["num_20", "num_1"]);
        assert_eq!(number_prompts(40), ["num_40"]);
        assert_eq!(number_prompts(100), ["num_100"]);
        assert_eq!(number_prompts(145), ["num_100", "num_40", "num_5"]);
        assert_eq!(number_prompts(5000), ["num_100", "num_90", "num_9"]);
    }

    #[test]
    fn the_announcement_says_position_and_wait() {
        assert_eq!(
            announcement(3, Duration::from_secs(150)),
            [
                "queue_position",
                "num_3",
                "queue_in_line",
                "queue_wait",
                "num_3",
                "minutes"
            ]
        );
        assert_eq!(
            announcement(1, Duration::ZERO),
            [
                "queue_position",
                "num_1",
                "queue_in_line",
                "queue_wait",
                "less_than_a_minute"
            ]
        );
        assert_eq!(
            announcement(1, Duration::from_secs(60)).last().unwrap(),
            "minute"
        );
    }
}
