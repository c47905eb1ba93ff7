//! The checklist: one item per catalogue requirement, each with a status, an answer and links
//! to the evidence in the sandbox.
//!
//! Every way in (code, JSON, CSV) goes through the same checks, so a `Checklist` value is
//! always one a reader can trust: all requirements present once and in catalogue order, and
//! every item's status backed by what it claims (an answer; links to evidence).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, Serializer};

use crate::catalogue::{CATALOGUE_LEN, CATALOGUE_VERSION, Lang, RequirementId, catalogue};
use crate::error::{ChecklistError, Location, Problem, cap};

/// The longest answer, in characters: long enough for a paragraph of reasons and the
/// references, short enough that the answer points to evidence instead of pasting it.
pub const MAX_ANSWER_CHARS: usize = 4_000;

/// The most evidence links one item may carry.
pub const MAX_LINKS: usize = 32;

/// The longest evidence id or section name, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// The largest checklist file (JSON or CSV) read: 1 MiB. A full checklist at every limit is
/// under half of this; anything larger is not a checklist and is refused before parsing.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

pub(crate) fn check_size(bytes: usize) -> Result<(), ChecklistError> {
    if bytes > MAX_INPUT_BYTES {
        return Err(ChecklistError::new(
            Location::Input,
            Problem::TooLarge {
                bytes,
                max: MAX_INPUT_BYTES,
            },
        ));
    }
    Ok(())
}

/// How far a requirement has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "ChecklistStatus")]
pub enum Status {
    /// Not yet answered.
    Open,
    /// Answered in words.
    Answered,
    /// Answered, and the answer links to evidence in the sandbox (runs, findings, models,
    /// report sections).
    Evidenced,
}

impl Status {
    /// Every status, from least to most done.
    pub const ALL: [Status; 3] = [Status::Open, Status::Answered, Status::Evidenced];

    /// The name written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Answered => "answered",
            Status::Evidenced => "evidenced",
        }
    }

    /// The status named `s` (exactly as written in files: lower case).
    pub fn parse(s: &str) -> Result<Status, Problem> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Problem::UnknownStatus { found: cap(s) })
    }

    /// The status for people, in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Status::Open, Lang::Da) => "Åben",
            (Status::Open, Lang::En) => "Open",
            (Status::Answered, Lang::Da) => "Besvaret",
            (Status::Answered, Lang::En) => "Answered",
            (Status::Evidenced, Lang::Da) => "Dokumenteret",
            (Status::Evidenced, Lang::En) => "Evidenced",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a run, finding or model in an evidence link: 1–64 of `A-Z a-z 0-9 _ -`.
///
/// Only the shape is checked here; whether the thing exists is the service's to check. The
/// shape keeps links free of the characters the CSV, the link syntax (`:`, `#`, space) and
/// spreadsheets give a meaning to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvidenceId(String);

impl EvidenceId {
    /// `s` as an id, or why it is not one.
    pub fn parse(s: &str) -> Result<EvidenceId, &'static str> {
        check_name(s, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-', ID_REASONS)?;
        Ok(EvidenceId(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a section of a run's report in an evidence link: 1–64 of `a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectionName(String);

impl SectionName {
    /// `s` as a section name, or why it is not one.
    pub fn parse(s: &str) -> Result<SectionName, &'static str> {
        check_name(
            s,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-',
            SECTION_REASONS,
        )?;
        Ok(SectionName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a name was refused: empty, too long, a character outside its alphabet.
type NameReasons = [&'static str; 3];

const ID_REASONS: NameReasons = [
    "the id is empty",
    "the id is longer than 64 characters",
    "the id has a character outside A-Z a-z 0-9 _ -",
];

const SECTION_REASONS: NameReasons = [
    "the section is empty",
    "the section is longer than 64 characters",
    "the section has a character outside a-z 0-9 _ -",
];

fn check_name(
    s: &str,
    allowed: impl Fn(char) -> bool,
    [empty, long, alphabet]: NameReasons,
) -> Result<(), &'static str> {
    if s.is_empty() {
        Err(empty)
    } else if s.chars().count() > MAX_ID_CHARS {
        Err(long)
    } else if !s.chars().all(allowed) {
        Err(alphabet)
    } else {
        Ok(())
    }
}

/// A pointer from an answer to evidence in the sandbox. Written in text as `run:<id>`,
/// `finding:<id>`, `model:<id>` or `section:<run-id>#<section>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceLink {
    /// An evaluation run.
    Run(EvidenceId),
    /// An advisor's or authority's finding.
    Finding(EvidenceId),
    /// An uploaded model (its inspection report).
    Model(EvidenceId),
    /// One section of a run's report.
    Section {
        /// The run.
        run: EvidenceId,
        /// The section of its report.
        section: SectionName,
    },
}

impl EvidenceLink {
    /// The link written as `s`, or [`Problem::BadLink`] saying what is wrong with it.
    pub fn parse(s: &str) -> Result<EvidenceLink, Problem> {
        let bad = |reason| Problem::BadLink { found: cap(s), reason };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("there is no `:` after the kind"))?;
        let id = |t: &str| EvidenceId::parse(t).map_err(bad);
        match kind {
            "run" => Ok(EvidenceLink::Run(id(rest)?)),
            "finding" => Ok(EvidenceLink::Finding(id(rest)?)),
            "model" => Ok(EvidenceLink::Model(id(rest)?)),
            "section" => {
                let (run, section) = rest.split_once('#').ok_or_else(|| bad("a section link has no `#`"))?;
                Ok(EvidenceLink::Section {
                    run: id(run)?,
                    section: SectionName::parse(section).map_err(bad)?,
                })
            }
            _ => Err(bad("the kind is not run, finding, model or section")),
        }
    }
}

impl fmt::Display for EvidenceLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceLink::Run(id) => write!(f, "run:{}", id.as_str()),
            EvidenceLink::Finding(id) => write!(f, "finding:{}", id.as_str()),
            EvidenceLink::Model(id) => write!(f, "model:{}", id.as_str()),
            EvidenceLink::Section { run, section } => write!(f, "section:{}#{}", run.as_str(), section.as_str()),
        }
    }
}

impl Serialize for EvidenceLink {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EvidenceLink {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(deserializer)?;
        EvidenceLink::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The pattern of an evidence link's text, for the JSON Schema.
pub(crate) const LINK_PATTERN: &str =
    "^((run|finding|model):[A-Za-z0-9_-]{1,64}|section:[A-Za-z0-9_-]{1,64}#[a-z0-9_-]{1,64})$";

/// In the schema, a link is a string of the link's shape.
impl JsonSchema for EvidenceLink {
    fn schema_name() -> Cow<'static, str> {
        "ChecklistEvidenceLink".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A link to evidence in the sandbox: run:<id>, finding:<id>, model:<id> or section:<run-id>#<section>.",
            "type": "string",
            "pattern": LINK_PATTERN,
        })
    }
}

/// The pattern of an answer without control characters other than newline and tab, for the
/// JSON Schema.
pub(crate) const ANSWER_PATTERN: &str = "^[^\\x00-\\x08\\x0B-\\x1F\\x7F-\\x9F]*$";

/// The answer to one requirement.
///
/// Built only through [`Item::new`] (or [`Item::open`]), which checks the rules: `answered`
/// needs a non-blank answer, `evidenced` also at least one link; answers of at most
/// [`MAX_ANSWER_CHARS`] characters without control characters but newline and tab (a control
/// character in a report or a spreadsheet hides or rewrites text); at most [`MAX_LINKS`]
/// links, none twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(
    description = "The answer to one requirement. `open` may have an empty answer; `answered` needs a \
    non-blank answer; `evidenced` a non-blank answer and at least one evidence link."
)]
#[schemars(extend("allOf" = [
    {
        "if": { "properties": { "status": { "const": "answered" } } },
        "then": { "properties": { "answer": { "pattern": "\\S" } } }
    },
    {
        "if": { "properties": { "status": { "const": "evidenced" } } },
        "then": { "properties": { "answer": { "pattern": "\\S" }, "evidence": { "minItems": 1 } } }
    }
]))]
// Serialize only (reading goes through `from_json`, which names paths); the attribute makes
// the schema say `additionalProperties: false`, as the reader has it.
#[serde(deny_unknown_fields)]
#[schemars(rename = "ChecklistItem")]
pub struct Item {
    /// The requirement answered.
    requirement: RequirementId,
    /// How far it has got.
    status: Status,
    /// The answer: empty while open; plain text, newlines and tabs allowed.
    #[schemars(length(max = 4000), pattern(ANSWER_PATTERN))]
    answer: String,
    /// Links to the evidence, in the order given; `evidenced` needs at least one.
    #[schemars(length(max = 32), extend("uniqueItems" = true))]
    evidence: Vec<EvidenceLink>,
}

impl Item {
    /// An item, checked against the rules; an error names the field.
    pub fn new(
        requirement: RequirementId,
        status: Status,
        answer: impl Into<String>,
        evidence: Vec<EvidenceLink>,
    ) -> Result<Item, ChecklistError> {
        let item = Item {
            requirement,
            status,
            answer: answer.into(),
            evidence,
        };
        item.check()
            .map_err(|(field, problem)| ChecklistError::new(Location::Item { requirement, field }, problem))
            .map(|()| item)
    }

    /// The open item for `requirement`: no answer, no links.
    pub fn open(requirement: RequirementId) -> Item {
        Item {
            requirement,
            status: Status::Open,
            answer: String::new(),
            evidence: Vec::new(),
        }
    }

    /// The requirement answered.
    pub fn requirement(&self) -> RequirementId {
        self.requirement
    }

    /// How far it has got.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The answer (empty while open).
    pub fn answer(&self) -> &str {
        &self.answer
    }

    /// The links to evidence.
    pub fn evidence(&self) -> &[EvidenceLink] {
        &self.evidence
    }

    /// The rules, in the order a person would fix them: the answer's text, the links, then
    /// what the status needs. An error names the field (the JSON key and the CSV column).
    pub(crate) fn check(&self) -> Result<(), (&'static str, Problem)> {
        check_answer(&self.answer).map_err(|p| ("answer", p))?;
        if self.evidence.len() > MAX_LINKS {
            return Err((
                "evidence",
                Problem::TooManyLinks {
                    count: self.evidence.len(),
                },
            ));
        }
        for (i, link) in self.evidence.iter().enumerate() {
            if self.evidence[..i].contains(link) {
                return Err(("evidence", Problem::DuplicateLink { link: link.to_string() }));
            }
        }
        let blank = self.answer.trim().is_empty();
        match self.status {
            Status::Open => Ok(()),
            Status::Answered | Status::Evidenced if blank => Err((
                "answer",
                Problem::AnswerRequired {
                    status: self.status.as_str(),
                },
            )),
            Status::Evidenced if self.evidence.is_empty() => Err(("evidence", Problem::EvidenceRequired)),
            Status::Answered | Status::Evidenced => Ok(()),
        }
    }
}

fn check_answer(answer: &str) -> Result<(), Problem> {
    let chars = answer.chars().count();
    if chars > MAX_ANSWER_CHARS {
        return Err(Problem::AnswerTooLong { chars });
    }
    match answer
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && c != '\n' && c != '\t')
    {
        Some((i, c)) => Err(Problem::ControlCharacter {
            code_point: u32::from(c),
            position: i + 1,
        }),
        None => Ok(()),
    }
}

/// How many items are at each status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ChecklistSummary")]
pub struct Summary {
    /// Items still open.
    pub open: usize,
    /// Items answered in words only.
    pub answered: usize,
    /// Items answered with evidence.
    pub evidenced: usize,
}

impl Summary {
    /// All items.
    pub fn total(&self) -> usize {
        self.open + self.answered + self.evidenced
    }
}

/// A case's checklist: exactly one item per catalogue requirement, in catalogue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
// As on `Item`: for the schema's `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct Checklist {
    /// The catalogue version the checklist answers ([`CATALOGUE_VERSION`]).
    #[schemars(description = "The version of the requirements catalogue the checklist answers.")]
    #[schemars(extend("const" = CATALOGUE_VERSION))]
    catalogue_version: String,
    /// One item per requirement of the catalogue, in catalogue order.
    #[schemars(length(min = CATALOGUE_LEN, max = CATALOGUE_LEN))]
    items: Vec<Item>,
}

impl Checklist {
    /// The checklist of a new case: every requirement open.
    pub fn blank() -> Checklist {
        Checklist {
            catalogue_version: CATALOGUE_VERSION.to_owned(),
            items: catalogue().iter().map(|r| Item::open(r.id)).collect(),
        }
    }

    /// The catalogue version it answers.
    pub fn catalogue_version(&self) -> &str {
        &self.catalogue_version
    }

    /// The items, in catalogue order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The item for `requirement` (there is always exactly one).
    pub fn get(&self, requirement: RequirementId) -> &Item {
        &self.items[requirement.index()]
    }

    /// Puts `item` in place of the item for its requirement and returns the one replaced. An
    /// `Item` is already checked, so this cannot break the checklist.
    pub fn set(&mut self, item: Item) -> Item {
        let i = item.requirement.index();
        std::mem::replace(&mut self.items[i], item)
    }

    /// How many items are open, answered and evidenced.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for item in &self.items {
            match item.status {
                Status::Open => summary.open += 1,
                Status::Answered => summary.answered += 1,
                Status::Evidenced => summary.evidenced += 1,
            }
        }
        summary
    }
}

/// Collects a file's items, wherever they are in it, into catalogue order.
///
/// Items may come in any order: a spreadsheet user who sorts the rows by status has not
/// changed the checklist, so the file is read, not refused, and written back in catalogue
/// order. What is refused is a requirement given twice (which answer counts?) or not at all.
pub(crate) struct Assembler {
    slots: Vec<Option<(Item, Location)>>,
}

impl Assembler {
    pub(crate) fn new() -> Assembler {
        Assembler {
            slots: vec![None; CATALOGUE_LEN],
        }
    }

    /// Adds the item found at `at` (the location of its requirement).
    pub(crate) fn add(&mut self, item: Item, at: Location) -> Result<(), ChecklistError> {
        let i = item.requirement.index();
        if let Some((_, first)) = &self.slots[i] {
            let problem = Problem::DuplicateRequirement {
                requirement: item.requirement,
                first: Box::new(first.clone()),
            };
            return Err(ChecklistError::new(at, problem));
        }
        self.slots[i] = Some((item, at));
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Checklist, ChecklistError> {
        let missing: Vec<RequirementId> = self
            .slots
            .iter()
            .zip(catalogue())
            .filter(|(slot, _)| slot.is_none())
            .map(|(_, r)| r.id)
            .collect();
        if !missing.is_empty() {
            return Err(ChecklistError::new(
                Location::Input,
                Problem::MissingRequirements { requirements: missing },
            ));
        }
        Ok(Checklist {
            catalogue_version: CATALOGUE_VERSION.to_owned(),
            items: self.slots.into_iter().flatten().map(|(item, _)| item).collect(),
        })
    }
}
