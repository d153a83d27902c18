//! What a leg is playing: a list of prompts back to back, optionally looped, read out slot by
//! slot as G.711 bytes. Sans-IO: the session asks for the next slot's bytes.

use std::sync::Arc;

use crate::event::PlaybackId;
use crate::prompt::Prompt;
use crate::{Codec, g711};

/// How to play a list of prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayOptions {
    /// Start again from the first prompt after the last one (music on hold, queue prompts).
    pub looped: bool,
    /// A received DTMF digit stops the playback.
    pub barge_in: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            looped: false,
            barge_in: true,
        }
    }
}

#[derive(Debug)]
struct Playback {
    id: PlaybackId,
    prompts: Vec<Arc<Prompt>>,
    index: usize,
    offset: usize,
    options: PlayOptions,
    started: bool,
}

/// The result of reading one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fill {
    /// Some prompt audio went into the slot (otherwise it is all silence).
    pub audio: bool,
    /// This slot is the first of a playback: a talkspurt starts (marker bit, RFC 3551 §4.1).
    pub talkspurt_start: bool,
    /// This playback ended within the slot (not interrupted).
    pub finished: Option<PlaybackId>,
}

/// The playback state of one leg.
#[derive(Debug, Default)]
pub struct Playout {
    current: Option<Playback>,
}

impl Playout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts playing `prompts`; returns the playback it replaced, if any (interrupted), and
    /// `Some(id)` in the second place if the new playback had nothing to play and is already
    /// finished.
    pub fn play(
        &mut self,
        id: PlaybackId,
        prompts: Vec<Arc<Prompt>>,
        options: PlayOptions,
    ) -> (Option<PlaybackId>, Option<PlaybackId>) {
        let replaced = self.stop();
        let prompts: Vec<Arc<Prompt>> = prompts.into_iter().filter(|p| p.samples() > 0).collect();
        if prompts.is_empty() {
            return (replaced, Some(id));
        }
        self.current = Some(Playback {
            id,
            prompts,
            index: 0,
            offset: 0,
            options,
            started: false,
        });
        (replaced, None)
    }

    /// Stops the playback; returns its id if one was playing.
    pub fn stop(&mut self) -> Option<PlaybackId> {
        self.current.take().map(|p| p.id)
    }

    /// A digit arrived: stops the playback if it allows barge-in.
    pub fn barge_in(&mut self) -> Option<PlaybackId> {
        if self.current.as_ref().is_some_and(|p| p.options.barge_in) {
            self.stop()
        } else {
            None
        }
    }

    pub fn is_playing(&self) -> bool {
        self.current.is_some()
    }

    pub fn current(&self) -> Option<PlaybackId> {
        self.current.as_ref().map(|p| p.id)
    }

    /// Writes the next `out.len()` samples in `codec` (silence after the end).
    pub fn fill(&mut self, codec: Codec, out: &mut [u8]) -> Fill {
        let (fill, written) = self.step(out.len(), Some((codec, &mut *out)));
        out[written..].fill(g711::silence(codec));
        fill
    }

    /// Moves on by `samples` without producing audio (the slot was not sent: hold, DTMF, lag).
    pub fn advance(&mut self, samples: usize) -> Option<PlaybackId> {
        self.step(samples, None).0.finished
    }

    fn step(&mut self, samples: usize, mut out: Option<(Codec, &mut [u8])>) -> (Fill, usize) {
        let mut fill = Fill::default();
        let mut written = 0;
        while written < samples {
            let Some(pb) = self.current.as_mut() else {
                break;
            };
            if !pb.started {
                pb.started = true;
                fill.talkspurt_start = true;
            }
            let prompt = &pb.prompts[pb.index];
            // The audio without the frame padding: prompts follow each other (and a loop
            // wraps) sample-exactly, with no silence in between.
            let len = prompt.samples();
            let n = (samples - written).min(len - pb.offset);
            if let Some((codec, buf)) = out.as_mut() {
                buf[written..written + n]
                    .copy_from_slice(&prompt.encoded(*codec)[pb.offset..pb.offset + n]);
            }
            fill.audio = true;
            written += n;
            pb.offset += n;
            if pb.offset == len {
                pb.offset = 0;
                pb.index += 1;
                if pb.index == pb.prompts.len() {
                    if pb.options.looped {
                        pb.index = 0;
                    } else {
                        fill.finished = Some(pb.id);
                        self.current = None;
                    }
                }
            }
        }
        (fill, written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(frames: usize, level: i16) -> Arc<Prompt> {
        Arc::new(Prompt::from_samples_8k(&vec![level; frames * 160], "p"))
    }

    #[test]
    fn prompts_play_back_to_back_then_silence() {
        let mut p = Playout::new();
        let a = prompt(1, 1000);
        let b = prompt(2, -1000);
        p.play(
            PlaybackId(1),
            vec![a.clone(), b.clone()],
            PlayOptions::default(),
        );
        let mut buf = [0u8; 160];
        let f = p.fill(Codec::Pcma, &mut buf);
        assert!(f.audio && f.talkspurt_start && f.finished.is_none());
        assert_eq!(&buf[..], a.frame(Codec::Pcma, 0).unwrap());
        let f = p.fill(Codec::Pcma, &mut buf);
        assert!(!f.talkspurt_start);
        assert_eq!(&buf[..], b.frame(Codec::Pcma, 0).unwrap());
        let f = p.fill(Codec::Pcma, &mut buf);
        assert_eq!(f.finished, Some(PlaybackId(1)));
        let f = p.fill(Codec::Pcma, &mut buf);
        assert_eq!(f, Fill::default());
        assert!(buf.iter().all(|&x| x == g711::ALAW_SILENCE));
    }

    #[test]
    fn larger_slots_span_prompt_boundaries_and_end_with_silence() {
        let mut p = Playout::new();
        let a = prompt(1, 3000);
        p.play(
            PlaybackId(1),
            vec![a.clone(), a.clone(), a.clone()],
            PlayOptions::default(),
        );
        let mut buf = [0u8; 320];
        assert!(p.fill(Codec::Pcmu, &mut buf).finished.is_none());
        let f = p.fill(Codec::Pcmu, &mut buf);
        assert_eq!(f.finished, Some(PlaybackId(1)));
        assert_eq!(&buf[..160], a.frame(Codec::Pcmu, 0).unwrap());
        assert!(buf[160..].iter().all(|&x| x == g711::ULAW_SILENCE));
    }

    #[test]
    fn looped_playback_wraps_and_never_finishes() {
        let mut p = Playout::new();
        p.play(
            PlaybackId(2),
            vec![prompt(2, 100)],
            PlayOptions {
                looped: true,
                barge_in: false,
            },
        );
        for _ in 0..100 {
            assert_eq!(p.advance(160), None);
        }
        assert!(p.is_playing());
        assert_eq!(p.barge_in(), None, "barge-in disabled");
        assert_eq!(p.stop(), Some(PlaybackId(2)));
    }

    /// Hold music: a prompt that is not a whole number of frames loops without a gap or a
    /// repeated sample, mid-packet.
    #[test]
    fn looped_music_wraps_seamlessly_inside_a_packet() {
        let samples: Vec<i16> = (0..400).map(|i| (i as i16 - 200) * 100).collect();
        let music = Arc::new(Prompt::from_samples_8k(&samples, "music"));
        let mut p = Playout::new();
        let looped = PlayOptions {
            looped: true,
            barge_in: false,
        };
        p.play(PlaybackId(1), vec![music.clone()], looped);
        let mut heard = Vec::new();
        for _ in 0..10 {
            let mut buf = [0u8; 160];
            let f = p.fill(Codec::Pcmu, &mut buf);
            assert!(f.audio && f.finished.is_none());
            heard.extend_from_slice(&buf);
        }
        let once = &music.encoded(Codec::Pcmu)[..400];
        for (i, &c) in heard.iter().enumerate() {
            assert_eq!(c, once[i % 400], "sample {i}");
        }
        assert_eq!(
            p.stop(),
            Some(PlaybackId(1)),
            "stopped when the agent answers"
        );
    }

    #[test]
    fn replacing_reports_the_old_one_and_empty_lists_finish_at_once() {
        let mut p = Playout::new();
        assert_eq!(
            p.play(PlaybackId(1), vec![prompt(5, 1)], PlayOptions::default()),
            (None, None)
        );
        assert_eq!(
            p.play(PlaybackId(2), vec![prompt(5, 1)], PlayOptions::default()),
            (Some(PlaybackId(1)), None)
        );
        assert_eq!(p.barge_in(), Some(PlaybackId(2)));
        let empty = Arc::new(Prompt::from_samples_8k(&[], "e"));
        let looped = PlayOptions {
            looped: true,
            barge_in: true,
        };
        assert_eq!(
            p.play(PlaybackId(3), vec![empty], looped),
            (None, Some(PlaybackId(3)))
        );
        assert!(!p.is_playing());
    }
}
