//! Every word the pages show, in Danish and English: one table.
//!
//! Page texts are the variants of [`T`]; [`texts!`] writes the enum and one exhaustive
//! `match` from a list in which each entry must name its Danish and its English text, so a
//! text without a translation does not compile. Sentences with numbers or names in them are
//! the functions below, each an exhaustive `match` over the language. Words the reports show
//! too (metric, attribute and comparison names, and how numbers are written) are not here:
//! they come from `htmlreport::labels` and [`Lang`]'s formatting, the reports' own table, so
//! a page and the report it links to say the same thing.

pub use htmlreport::Lang;
use store::{OrgKind, Role, RunState};

/// Writes [`T`], [`T::ALL`] and [`T::pair`] from `Variant => "dansk", "English";` entries.
macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident => $da:literal, $en:literal;)*) => {
        /// A text of the pages; [`Words::t`] gives it in the page's language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($(#[$doc])* $name,)* }

        impl T {
            /// Every text, for tests that look for untranslated words.
            pub const ALL: &'static [T] = &[$(T::$name,)*];

            /// The text as `(Danish, English)`.
            pub const fn pair(self) -> (&'static str, &'static str) {
                match self { $(T::$name => ($da, $en),)* }
            }
        }
    };
}

texts! {
    // The frame.
    Cases => "Sager", "Cases";
    Runs => "Kørsler", "Runs";
    AuditLog => "Revisionslog", "Audit log";
    LogOut => "Log ud", "Log out";
    MainNav => "hovedmenu", "main";
    LanguageNav => "sprog", "language";
    // Error pages.
    NotAllowed => "Ikke tilladt", "Not allowed";
    NotFound => "Ikke fundet", "Not found";
    NotLoggedIn => "Ikke logget ind", "Not logged in";
    CannotDoThat => "Det kan ikke lade sig gøre", "Cannot do that";
    SomethingWentWrong => "Noget gik galt", "Something went wrong";
    BackToCases => "Tilbage til dine sager", "Back to your cases";
    // Logging in.
    LogIn => "Log ind", "Log in";
    LoginIntro => "Sandkasse afprøver AI-modeller på syntetiske borgere. Log ind med den API-token, som din administrator har givet dig; den byttes til en session og gemmes ikke i browseren.",
        "Sandkasse tests AI models on synthetic citizens. Log in with the API token your administrator gave you; it is exchanged for a session and not kept in the browser.";
    Token => "Token", "Token";
    TokenInvalid => "Den token er ikke gyldig.", "That token is not valid.";
    // Cases.
    NoCases => "Du er ikke med i nogen sag endnu. En myndighed tilføjer din organisation til en sag.",
        "You are not in any case yet. An authority adds your organisation to a case.";
    Case => "Sag", "Case";
    Organisations => "Organisationer", "Organisations";
    Models => "Modeller", "Models";
    Opened => "Åbnet", "Opened";
    OpenACase => "Åbn en sag", "Open a case";
    Name => "Navn", "Name";
    MembersLegend => "Deltagende organisationer (din egen er altid med)", "Organisations taking part (yours is always in)";
    OpenCase => "Åbn sag", "Open case";
    Id => "Id", "Id";
    Criteria => "Kriterier", "Criteria";
    NoCriteria => "Der er endnu ikke fastsat kriterier; rapporterne viser målene uden afgørelser.",
        "No criteria are fixed yet; reports will show the metrics without verdicts.";
    ChangeCriteria => "Ret kriterierne", "Change the criteria";
    CriteriaHint => "Kriterier (JSON-liste eller TOML med [[criterion]]-tabeller)", "Criteria (JSON list, or TOML with [[criterion]] tables)";
    FixCriteria => "Fastsæt kriterier", "Fix criteria";
    NoModels => "Ingen modeller endnu.", "No models yet.";
    UploadAModel => "Upload en model", "Upload a model";
    NoRunsYet => "Ingen kørsler endnu.", "No runs yet.";
    StartARun => "Start en kørsel", "Start a run";
    Findings => "Fund og noter", "Findings and notes";
    NoFindings => "Ingen fund eller noter endnu.", "No findings or notes yet.";
    WriteAFinding => "Skriv et fund", "Write a finding";
    Finding => "Fund", "Finding";
    About => "Om", "About";
    TheCase => "Sagen", "The case";
    Severity => "Alvor", "Severity";
    SeverityNote => "Note", "Note";
    SeverityLow => "Lav", "Low";
    SeverityMedium => "Middel", "Medium";
    SeverityHigh => "Høj", "High";
    Corrects => "Retter", "Corrects";
    SupersededBy => "Erstattet af", "Superseded by";
    Attribute => "Egenskab", "Attribute";
    Metric => "Mål", "Metric";
    Against => "Sammenlignet", "Against";
    Requirement => "Krav", "Requirement";
    Model => "Model", "Model";
    Version => "Version", "Version";
    Scenario => "Scenarie", "Scenario";
    Uploaded => "Uploadet", "Uploaded";
    Sha256 => "SHA-256", "SHA-256";
    // Uploading.
    UploadIntro => "Modellen (ONNX) og dens manifest (TOML eller JSON) undersøges, før noget gemmes: operatorer, opsets, størrelser og manifestets kolonner. En model, der ikke består, gemmes ikke.",
        "The model (ONNX) and its manifest (TOML or JSON) are inspected before anything is stored: operators, opsets, sizes and the manifest's columns. A model that fails is not kept.";
    ModelFile => "Model (.onnx)", "Model (.onnx)";
    ManifestFile => "Manifest (.toml eller .json)", "Manifest (.toml or .json)";
    DraftIntro => "Intet manifest? Lad felterne herunder udfylde et fra modellens egne input- og output-navne: et input, der hedder som en kolonne i scenariet (eller kolonne_kategori), læses fra den kolonne med modellens egen type.",
        "No manifest? Fill in the fields below to have one drafted from the model's own input and output names: an input named like a scenario column (or column_category) reads that column in the model's own type.";
    FeatureNames => "Kolonnenavne for et bredt input, i rækkefølge (komma eller linje imellem)", "Column names of a wide input, in order (comma or line between)";
    PositiveClass => "Positiv klasse (standard 1)", "Positive class (default 1)";
    Threshold => "Beslutningstærskel (standard 0,5)", "Decision threshold (default 0.5)";
    ModelName => "Modellens navn", "Model name";
    UploadAndInspect => "Upload og undersøg", "Upload and inspect";
    RejectedAtInspection => "Modellen blev afvist ved undersøgelsen:", "The model was rejected at inspection:";
    // A model.
    Vendor => "Leverandør", "Vendor";
    ModelSha => "Modellens SHA-256", "Model SHA-256";
    ManifestSha => "Manifestets SHA-256", "Manifest SHA-256";
    Inspection => "Undersøgelse", "Inspection";
    ManifestWarnings => "Advarsler om manifestet (modellen kører, men læseren skal vide det):", "Manifest warnings (the model runs, but its readers must know):";
    Accepted => "Godkendt: ingen fund. Kun tilladte operatorer og opsets, ingen eksterne data, inden for alle størrelsesgrænser.",
        "Accepted: no findings. Only allowed operators and opsets, no external data, within every size limit.";
    Producer => "Producent", "Producer";
    IrVersion => "IR-version", "IR version";
    Opsets => "Opsets", "Opsets";
    FileSize => "Filstørrelse", "File size";
    Bytes => "byte", "bytes";
    Nodes => "Knuder", "Nodes";
    Initializers => "Initialiseringer", "Initializers";
    Parameters => "Parametre", "Parameters";
    InputsAndOutputs => "Input og output", "Inputs and outputs";
    Direction => "Retning", "Direction";
    Type => "Type", "Type";
    Shape => "Form", "Shape";
    Input => "input", "input";
    Output => "output", "output";
    Operators => "Operatorer", "Operators";
    Operator => "Operator", "Operator";
    Count => "Antal", "Count";
    RunsOfThisModel => "Kørsler af denne model", "Runs of this model";
    NoneYet => "Ingen endnu.", "None yet.";
    Run => "Kørsel", "Run";
    State => "Tilstand", "State";
    Created => "Oprettet", "Created";
    // The run form.
    Citizens => "Borgere", "Citizens";
    Seed => "Startværdi (seed)", "Seed";
    InjectedBias => "Indlagt skævhed (NØGLE=VÆRDI …)", "Injected bias (KEY=VALUE …)";
    ScenarioDefault => "scenariets standard", "scenario default";
    CounterfactualTwins => "Kontrafaktiske tvillinger", "Counterfactual twins";
    NoTwins => "ingen", "none";
    ExplainModel => "Forklar modellen", "Explain the model";
    CausalPaths => "Kausale stier", "Causal paths";
    RobustnessStage => "Robusthed over for målefejl", "Robustness to measurement error";
    ShiftStage => "Skift i befolkningen (proxy, skæve udfald, repræsentation, regioner)", "Population shift (proxy, label bias, representation, regions)";
    PathList => "Stier (total, proxy, mediated, through:A+B, hold:A+B)", "Paths (total, proxy, mediated, through:A+B, hold:A+B)";
    Proxies => "Stedfortrædere (proxyer)", "Proxies";
    Explanations => "Forklaringer", "Explanations";
    Off => "fra", "off";
    StartRun => "Start kørsel", "Start run";
    // Runs.
    Any => "alle", "any";
    Filter => "Filtrér", "Filter";
    NoRuns => "Ingen kørsler.", "No runs.";
    Progress => "Fremdrift", "Progress";
    ReportDa => "Rapport (dansk)", "Report (Danish)";
    ReportEn => "Rapport (engelsk)", "Report (English)";
    CancelRun => "Annullér kørsel", "Cancel run";
    // Replay (advisors).
    ReplayRun => "Genafspil kørslen", "Replay the run";
    ReplayExplained => "Kører modellen igen på de samme syntetiske borgere fra kørslens registrering (modellen efter hash, datasættets specifikation og frø) og sammenligner resultaterne byte for byte. Ændrer ingen data.",
        "Runs the model again on the same synthetic citizens from the run's record (the model by hash, the dataset spec and seeds) and compares the findings byte for byte. Changes no data.";
    Replay => "Genafspilning", "Replay";
    ReplayIdentical => "Identisk: de genafspillede resultater er byte for byte de samme som de gemte.", "Identical: the replayed findings are byte-identical to the stored ones.";
    ReplayDifferent => "Forskellige: de genafspillede resultater afviger fra de gemte.", "Different: the replayed findings differ from the stored ones.";
    FirstDifference => "Første forskel", "First difference";
    Stored => "Gemt", "Stored";
    Replayed => "Genafspillet", "Replayed";
    ChangedCircumstances => "Ændrede omstændigheder (versioner, isolation)", "Changed circumstances (versions, isolation)";
    NoneChanged => "Ingen: samme version af sandkassen og ONNX Runtime, samme isolation.", "None: the same sandbox and ONNX Runtime versions, the same isolation.";
    BackToRun => "Tilbage til kørslen", "Back to the run";
    // The sandbox plan and the requirements checklist.
    SandboxPlan => "Sandkasseplan", "Sandbox plan";
    NoPlan => "Sagen har endnu ingen sandkasseplan.", "The case has no sandbox plan yet.";
    Objectives => "Formål", "Objectives";
    LegalQuestions => "Juridiske spørgsmål", "Legal questions";
    Milestones => "Milepæle", "Milestones";
    RequirementsChecklist => "Kravliste", "Requirements checklist";
    ChecklistExplained => "AI-forordningens krav til højrisikosystemer, databeskyttelsesforordningens art. 22 og 35 og forvaltningslovens og ligebehandlingslovens regler; besvares og dokumenteres af sagens deltagere.",
        "The AI Act's requirements for high-risk systems, GDPR Arts. 22 and 35 and the Danish rules on reasons and equal treatment; answered and evidenced by the case's participants.";
    Open => "Åbne", "Open";
    Answered => "Besvarede", "Answered";
    Evidenced => "Dokumenterede", "Evidenced";
    // Comparison and leaderboard.
    Leaderboard => "Resultattavle", "Leaderboard";
    LeaderboardExplained => "Hver gennemført kørsel med modellens dom på hvert kriterium; flest beståede først.", "Every succeeded run with its verdict on each criterion; most passed first.";
    CompareRuns => "Sammenlign kørsler", "Compare runs";
    CompareExplained => "Vælg 2 til 8 kørsler på samme datasæt (samme hash); den første er udgangspunktet. Forskellene vises med parrede bootstrap-intervaller, hvor borgerne trækkes samlet.",
        "Choose 2 to 8 runs on the same dataset (same hash); the first is the baseline. Differences are shown with paired bootstrap intervals, citizens resampled jointly.";
    Compare => "Sammenlign", "Compare";
    Comparison => "Sammenligning", "Comparison";
    Dataset => "Datasæt", "Dataset";
    Passed => "Bestået", "Passed";
    Failed => "Ikke bestået", "Failed";
    Rate => "Mål", "Rate";
    Group => "Gruppe", "Group";
    Everyone => "alle", "everyone";
    Difference => "Forskel", "Difference";
    PairedInterval => "Parret interval", "Paired interval";
    UnpairedInterval => "Uparret interval", "Unpaired interval";
    DecisionsDiffer => "Borgere med forskellig afgørelse", "Citizens decided differently";
    DecisionThreshold => "Tærskel", "Threshold";
    Details => "Detaljer", "Details";
    StartedBy => "Startet af", "Started by";
    Started => "Startet", "Started";
    Finished => "Afsluttet", "Finished";
    Bootstrap => "Bootstrap", "Bootstrap";
    // The audit log.
    ChainIntact => "Kæden er intakt.", "The chain is intact.";
    CheckAgainNow => "Tjek igen nu", "Check again now";
    LogDiverges => "Loggen stemmer ikke med et signeret kontrolpunkt.", "The log does not match a signed checkpoint.";
    Checkpoints => "Signerede kontrolpunkter", "Signed checkpoints";
    CheckpointsExplained => "Sandkassen signerer jævnligt loggens Merkle-rod (RFC 9162) med sin Ed25519-nøgle. Gem et kontrolpunkt uden for sandkassen: med det og den offentlige nøgle viser sandkasse audit verify --checkpoint, om loggen siden er blevet afkortet, omskrevet eller rullet tilbage.", "The sandbox regularly signs the log's Merkle root (RFC 9162) with its Ed25519 key. Keep a checkpoint outside the sandbox: with it and the public key, sandkasse audit verify --checkpoint shows whether the log has since been cut, rewritten or rolled back.";
    PublicKey => "Offentlig nøgle", "Public key";
    NewestCheckpoint => "Nyeste kontrolpunkt", "Newest checkpoint";
    NoCheckpointYet => "Intet kontrolpunkt er signeret endnu.", "No checkpoint has been signed yet.";
    Actor => "Aktør", "Actor";
    Anyone => "alle", "anyone";
    Anonymous => "anonym", "anonymous";
    FromUtc => "Fra (UTC)", "From (UTC)";
    ToUtc => "Til (UTC)", "To (UTC)";
    Order => "Rækkefølge", "Order";
    NewestFirst => "nyeste først", "newest first";
    OldestFirst => "ældste først", "oldest first";
    NoEntries => "Ingen poster passer.", "No entries match.";
    Number => "#", "#";
    TimeUtc => "Tid (UTC)", "Time (UTC)";
    Role => "Rolle", "Role";
    Action => "Handling", "Action";
    Object => "Objekt", "Object";
    Outcome => "Udfald", "Outcome";
    Request => "Forespørgsel", "Request";
    Pages => "sider", "pages";
    PreviousPage => "‹ Forrige side", "‹ Previous page";
    NextPage => "Næste side ›", "Next page ›";
}

/// The page's language and where the page is, for the language switch; see
/// [`super::lang`] for how it is chosen.
#[derive(Debug, Clone)]
pub struct Words {
    /// The language every text of the page is in.
    pub lang: Lang,
    /// The page to come back to after switching language: a local `/ui/` path.
    pub(super) here: String,
}

impl Default for Words {
    /// English on the cases page: for pages drawn before the request is known.
    fn default() -> Self {
        Self {
            lang: Lang::En,
            here: "/ui/cases".into(),
        }
    }
}

impl Words {
    /// A text in the page's language.
    pub fn t(&self, t: T) -> &'static str {
        let (da, en) = t.pair();
        self.lang.t(da, en)
    }

    /// A count as the reports write it: 20.000 or 20,000.
    pub fn count(&self, n: u64) -> String {
        self.lang.count(n as f64)
    }

    /// A proportion as the reports write it, with `d` decimals: 81,2 % or 81.2%.
    pub fn pct(&self, x: f64, d: usize) -> String {
        self.lang.pct(x, d)
    }

    /// A role by its name in the page's language.
    pub fn role(&self, r: Role) -> &'static str {
        let (da, en) = match r {
            Role::Vendor => ("leverandør", "vendor"),
            Role::Authority => ("myndighed", "authority"),
            Role::Advisor => ("rådgiver", "advisor"),
            Role::Admin => ("administrator", "admin"),
        };
        self.lang.t(da, en)
    }

    /// An organisation's kind, named like the role it gives its people.
    pub fn org_kind(&self, k: OrgKind) -> &'static str {
        self.role(match k {
            OrgKind::Vendor => Role::Vendor,
            OrgKind::Authority => Role::Authority,
            OrgKind::Advisor => Role::Advisor,
            OrgKind::Admin => Role::Admin,
        })
    }

    /// A run state as a word; in English the state's own name, which tests and scripts read.
    pub fn state(&self, s: RunState) -> &'static str {
        let da = match s {
            RunState::Queued => "i kø",
            RunState::Running => "kører",
            RunState::Succeeded => "lykkedes",
            RunState::Failed => "fejlede",
            RunState::Cancelled => "annulleret",
        };
        self.lang.t(da, s.as_str())
    }

    /// Under the criteria: when they were fixed and what that means.
    pub fn criteria_fixed(&self, when: &str) -> String {
        match self.lang {
            Lang::Da => format!("Fastsat {when}. Hver kørsel, der startes herefter, bedømmes efter disse."),
            Lang::En => format!("Fixed {when}. Every run started from now on is judged against these."),
        }
    }

    /// A live run's progress line.
    pub fn rows_scored(&self, pct: f64, done: u64, total: u64) -> String {
        let (pct, done, total) = (self.lang.pct(pct / 100.0, 1), self.count(done), self.count(total));
        match self.lang {
            Lang::Da => {
                format!("{pct} · {done} af {total} rækker scoret · siden opdaterer sig selv hvert andet sekund")
            }
            Lang::En => format!("{pct} · {done} of {total} rows scored · this page updates itself every 2 seconds"),
        }
    }

    /// A run's citizens and seed.
    pub fn rows_and_seed(&self, rows: u64, seed: u64) -> String {
        let rows = self.count(rows);
        match self.lang {
            Lang::Da => format!("{rows} rækker (startværdi {seed})"),
            Lang::En => format!("{rows} rows (seed {seed})"),
        }
    }

    /// What a run's explanation stage covers.
    pub fn explained(&self, rows: u64, repeats: u64) -> String {
        let (rows, repeats) = (self.count(rows), self.count(repeats));
        match self.lang {
            Lang::Da => format!("{rows} rækker, {repeats} permutationer pr. kolonne"),
            Lang::En => format!("{rows} rows, {repeats} permutations per column"),
        }
    }

    /// The causal paths a run measures, on how many citizens.
    pub fn paths_on(&self, paths: &str, rows: u64) -> String {
        let rows = self.count(rows);
        match self.lang {
            Lang::Da => format!("{paths} ({rows} borgere)"),
            Lang::En => format!("{paths} ({rows} citizens)"),
        }
    }

    /// How many criteria a run was judged against.
    pub fn criteria_of_run(&self, n: usize) -> String {
        match self.lang {
            Lang::Da => format!("{n} fastsat for denne kørsel"),
            Lang::En => format!("{n} fixed for this run"),
        }
    }

    /// The bootstrap's resamples.
    pub fn resamples(&self, n: u64) -> String {
        let n = self.count(n);
        match self.lang {
            Lang::Da => format!("{n} gentagne stikprøver"),
            Lang::En => format!("{n} resamples"),
        }
    }

    /// A run's heading before its id.
    pub fn run_heading(&self) -> &'static str {
        self.t(T::Run)
    }

    /// The audit chain's check, when intact: how many entries, when.
    pub fn chain_checked(&self, entries: u64, at: &str) -> String {
        let n = self.count(entries);
        match self.lang {
            Lang::Da => format!(
                " Alle {n} poster blev tjekket {at}: hver hash passer til sin post, og hver post peger på den forrige."
            ),
            Lang::En => format!(
                " All {n} entries were checked at {at}: every hash matches its entry and every entry links to the one before."
            ),
        }
    }

    /// The chain's head, before its hash.
    pub fn chain_head(&self, seq: impl std::fmt::Display) -> String {
        match self.lang {
            Lang::Da => format!("Hoved: post {seq}, hash "),
            Lang::En => format!("Head: entry {seq}, hash "),
        }
    }

    /// After the head's hash.
    pub fn chain_head_after(&self) -> &'static str {
        self.lang.t(
            " (notér den et andet sted for senere at kunne opdage afkortning).",
            " (record it elsewhere to detect truncation later).",
        )
    }

    /// The chain broken at an entry.
    pub fn checkpoint_covers(&self, size: u64, at: &str) -> String {
        let n = self.count(size);
        match self.lang {
            Lang::Da => format!("Dækker de første {n} poster, signeret {at}."),
            Lang::En => format!("Covers the first {n} entries, signed {at}."),
        }
    }

    pub fn chain_broken(&self, seq: impl std::fmt::Display) -> String {
        match self.lang {
            Lang::Da => format!("Kæden er brudt ved post {seq}."),
            Lang::En => format!("The chain is broken at entry {seq}."),
        }
    }

    /// When a broken chain was found.
    pub fn checked_at(&self, at: &str) -> String {
        match self.lang {
            Lang::Da => format!(" (tjekket {at}) "),
            Lang::En => format!(" (checked at {at}) "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_most_differ() {
        for t in T::ALL {
            let (da, en) = t.pair();
            assert!(!da.trim().is_empty() && !en.trim().is_empty(), "{t:?}");
        }
        // Words that are the same in both (model, version, SHA-256, …) are few; a table
        // where most entries were copied without translating would fail here.
        let same = T::ALL.iter().filter(|t| t.pair().0 == t.pair().1).count();
        assert!(
            same * 5 < T::ALL.len(),
            "{same} of {} texts are the same in both",
            T::ALL.len()
        );
    }

    #[test]
    fn english_states_are_the_states_own_names() {
        let en = Words::default();
        let da = Words {
            lang: Lang::Da,
            ..Words::default()
        };
        for s in RunState::ALL {
            assert_eq!(en.state(*s), s.as_str());
            assert_ne!(da.state(*s), s.as_str());
        }
        assert_eq!(en.count(20000), "20,000");
        assert_eq!(da.count(20000), "20.000");
        assert_eq!(da.role(Role::Advisor), "rådgiver");
    }
}
