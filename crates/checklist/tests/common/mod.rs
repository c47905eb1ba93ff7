//! Checklists for the tests: one with text that breaks naive CSV, JSON and spreadsheets, and a
//! small deterministic random generator (no dependency) for property-style tests.

#![allow(dead_code)]

use checklist::{Checklist, EvidenceLink, Item, RequirementId, Status, catalogue};

pub fn id(s: &str) -> RequirementId {
    RequirementId::parse(s).unwrap()
}

pub fn link(s: &str) -> EvidenceLink {
    EvidenceLink::parse(s).unwrap()
}

/// Answers that each break something if handled naively: CSV quoting, line ends, spreadsheet
/// formulas and their `'` guard, Danish letters, emoji, spaces at the edges.
pub const TRICKY: [&str; 16] = [
    "Vi svarede \"ja\", men kun delvist, se kørsel 7.",
    "første linje\nanden linje\n\nfjerde linje\n",
    "=HYPERLINK(\"http://evil.example\",\"klik\")",
    "'=1+1",
    "''+cmd|' /C calc'!A0",
    "-5 point for gruppen",
    "@SUM(A1:A9)",
    "\tindrykket med tabulator",
    "Æble, øl og ål: æøå ÆØÅ",
    "emoji 🧪🇩🇰👩🏽‍⚖️ færdig",
    " mellemrum i begge ender ",
    "'bare et citationstegn",
    "'",
    "''",
    "a,b,c\n\"d\",e",
    "\u{a0}hårdt mellemrum og zero\u{200b}width",
];

/// A checklist with every status and the tricky answers spread over its items.
pub fn tricky() -> Checklist {
    let mut checklist = Checklist::blank();
    let links = [
        vec![link("run:r-2026_01")],
        vec![
            link("finding:F42"),
            link("model:gbm-v3"),
            link("section:r-2026_01#fairness"),
        ],
        vec![],
    ];
    for (i, requirement) in catalogue().iter().enumerate() {
        let answer = TRICKY[i % TRICKY.len()];
        let (status, evidence) = match i % 3 {
            0 => (Status::Evidenced, links[i % 2].clone()),
            1 => (Status::Answered, links[2].clone()),
            _ => (Status::Open, links[1].clone()),
        };
        let status = if answer.trim().is_empty() && status != Status::Open {
            Status::Open
        } else {
            status
        };
        checklist.set(Item::new(requirement.id, status, answer, evidence).unwrap());
    }
    checklist
}

/// xorshift64*: enough randomness to cover the text space, the same every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A random answer: mostly the characters CSV, JSON and spreadsheets care about, now
    /// and then any non-control character of the BMP or beyond.
    pub fn text(&mut self, max_len: usize) -> String {
        const POOL: &[char] = &[
            'a', 'Z', '0', ' ', ',', '"', '\'', '=', '+', '-', '@', '\t', '\n', 'æ', 'ø', 'å', 'Å', '#', ':', '\\',
            '\u{a0}', '\u{200b}', '\u{202e}', '🧪', '€', '﻿',
        ];
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| {
                if self.below(8) == 0 {
                    loop {
                        let c = char::from_u32(self.below(0x2_0000) as u32);
                        if let Some(c) = c.filter(|c| !c.is_control()) {
                            break c;
                        }
                    }
                } else {
                    POOL[self.below(POOL.len())]
                }
            })
            .collect()
    }

    pub fn id(&mut self, alphabet: &[u8]) -> String {
        let len = 1 + self.below(64);
        (0..len).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }

    pub fn link(&mut self) -> EvidenceLink {
        const ID: &[u8] = b"ABCXYZabcxyz0189_-";
        const SECTION: &[u8] = b"abcxyz0189_-";
        let text = match self.below(4) {
            0 => format!("run:{}", self.id(ID)),
            1 => format!("finding:{}", self.id(ID)),
            2 => format!("model:{}", self.id(ID)),
            _ => format!("section:{}#{}", self.id(ID), self.id(SECTION)),
        };
        EvidenceLink::parse(&text).unwrap()
    }

    /// A random valid checklist.
    pub fn checklist(&mut self) -> Checklist {
        let mut checklist = Checklist::blank();
        for r in catalogue() {
            let answer = self.text(60);
            let mut evidence: Vec<EvidenceLink> = Vec::new();
            for _ in 0..self.below(4) {
                let l = self.link();
                if !evidence.contains(&l) {
                    evidence.push(l);
                }
            }
            let status = match self.below(3) {
                _ if answer.trim().is_empty() => Status::Open,
                0 => Status::Open,
                1 => Status::Answered,
                _ if evidence.is_empty() => Status::Answered,
                _ => Status::Evidenced,
            };
            checklist.set(Item::new(r.id, status, answer, evidence).unwrap());
        }
        checklist
    }
}
