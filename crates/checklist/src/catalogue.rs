//! The catalogue: which legal requirements a sandbox case is asked about, in which order.
//!
//! The texts paraphrase what each provision requires; they are prompts for the case, not the
//! law's wording. The order is the order of the checklist (and of its files): the AI Act's
//! requirements for high-risk systems in article order with Annex IV after Article 11, then
//! the GDPR, then the Danish rules.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, Serializer};

use crate::error::Problem;

/// The version of the catalogue below. A checklist file names the catalogue it was written
/// against, and one written against another version is refused rather than silently read
/// against requirements it never answered. Change it whenever an id, a source, an article or
/// an English title changes (those are what the files carry).
pub const CATALOGUE_VERSION: &str = "2026-1";

/// How many requirements the catalogue has: the number of items in every checklist.
pub const CATALOGUE_LEN: usize = CATALOGUE.len();

/// The language of a text shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Danish.
    Da,
    /// English.
    En,
}

/// One text in Danish and in English: the case's authority writes in Danish, vendors and
/// advisors may read English, and both must be asked the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// Danish.
    pub da: &'static str,
    /// English.
    pub en: &'static str,
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Da => self.da,
            Lang::En => self.en,
        }
    }
}

/// The legal act a requirement comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Regulation (EU) 2024/1689, the AI Act: requirements for high-risk AI systems.
    AiAct,
    /// Regulation (EU) 2016/679, the GDPR.
    Gdpr,
    /// Forvaltningsloven, the Danish Public Administration Act: the duty to give reasons.
    Forvaltningsloven,
    /// Lov om etnisk ligebehandling (lov nr. 374 af 28/05/2003), the Act on Ethnic Equal
    /// Treatment.
    EtniskLigebehandling,
}

impl Source {
    /// Every source, in catalogue order.
    pub const ALL: [Source; 4] = [
        Source::AiAct,
        Source::Gdpr,
        Source::Forvaltningsloven,
        Source::EtniskLigebehandling,
    ];

    /// The stable name written in files (the CSV `source` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::AiAct => "ai_act",
            Source::Gdpr => "gdpr",
            Source::Forvaltningsloven => "forvaltningsloven",
            Source::EtniskLigebehandling => "etnisk_ligebehandling",
        }
    }

    /// The act's name for people, in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        let text = match self {
            Source::AiAct => Text {
                da: "AI-forordningen (forordning (EU) 2024/1689)",
                en: "AI Act (Regulation (EU) 2024/1689)",
            },
            Source::Gdpr => Text {
                da: "Databeskyttelsesforordningen (forordning (EU) 2016/679)",
                en: "General Data Protection Regulation (Regulation (EU) 2016/679)",
            },
            Source::Forvaltningsloven => Text {
                da: "Forvaltningsloven",
                en: "Danish Public Administration Act (forvaltningsloven)",
            },
            Source::EtniskLigebehandling => Text {
                da: "Lov om etnisk ligebehandling (lov nr. 374 af 28/05/2003)",
                en: "Danish Act on Ethnic Equal Treatment (Act No. 374 of 28 May 2003)",
            },
        };
        text.get(lang)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a catalogue requirement (`ai-act-art-9`, `fvl-22`, …).
///
/// Only ids in the catalogue exist: [`RequirementId::parse`] refuses any other, so holding one
/// means the requirement, its texts and its place in the checklist are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequirementId(&'static str);

impl RequirementId {
    /// The catalogue's id for `s`, or [`Problem::UnknownRequirement`] (which lists the valid
    /// ids) when the catalogue has none.
    pub fn parse(s: &str) -> Result<RequirementId, Problem> {
        CATALOGUE
            .iter()
            .map(|r| r.id)
            .find(|id| id.0 == s)
            .ok_or_else(|| Problem::UnknownRequirement {
                found: crate::error::cap(s),
            })
    }

    /// The id as written in files.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The requirement this id names.
    pub fn requirement(self) -> &'static Requirement {
        &CATALOGUE[self.index()]
    }

    /// The requirement's position in the catalogue (and in every checklist).
    pub fn index(self) -> usize {
        // Every RequirementId comes from CATALOGUE, so the search always succeeds; the
        // fallback is never taken and keeps this free of a panic path.
        CATALOGUE.iter().position(|r| r.id.0 == self.0).unwrap_or(0)
    }
}

impl fmt::Display for RequirementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for RequirementId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RequirementId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(deserializer)?;
        RequirementId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// In the schema, a requirement id is one of the catalogue's ids, so a validator refuses an
/// unknown one just as the parser does.
impl JsonSchema for RequirementId {
    fn schema_name() -> Cow<'static, str> {
        "RequirementId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = CATALOGUE.iter().map(|r| r.id.0).collect();
        schemars::json_schema!({
            "description": "The id of a requirement in the catalogue.",
            "type": "string",
            "enum": ids,
        })
    }
}

/// One requirement of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The stable id.
    pub id: RequirementId,
    /// The legal act.
    pub source: Source,
    /// The provision, as a reference (`AI Act Art. 10(5)`, `Forvaltningsloven § 24`).
    pub article: Text,
    /// A short title.
    pub title: Text,
    /// What the sandbox case must answer for this requirement.
    pub question: Text,
}

/// The catalogue, in checklist order.
pub fn catalogue() -> &'static [Requirement] {
    &CATALOGUE
}

const fn req(id: &'static str, source: Source, article: Text, title: Text, question: Text) -> Requirement {
    Requirement {
        id: RequirementId(id),
        source,
        article,
        title,
        question,
    }
}

const fn t(da: &'static str, en: &'static str) -> Text {
    Text { da, en }
}

static CATALOGUE: [Requirement; 24] = [
    req(
        "ai-act-art-9",
        Source::AiAct,
        t("AI-forordningen art. 9", "AI Act Art. 9"),
        t("Risikostyringssystem", "Risk management system"),
        t(
            "Hvordan identificeres, vurderes og afbødes kendte og rimeligt forudsigelige risici for sundhed, \
             sikkerhed og grundlæggende rettigheder i hele systemets livscyklus, og hvordan indgår afprøvningen \
             i sandkassen i den proces?",
            "How are known and reasonably foreseeable risks to health, safety and fundamental rights identified, \
             evaluated and mitigated throughout the system's lifecycle, and how does testing in the sandbox feed \
             into that process?",
        ),
    ),
    req(
        "ai-act-art-10",
        Source::AiAct,
        t("AI-forordningen art. 10", "AI Act Art. 10"),
        t("Data og datastyring", "Data and data governance"),
        t(
            "Hvilken datastyring gælder for trænings-, validerings- og afprøvningsdata, og hvordan vises det, at \
             data er relevante, tilstrækkeligt repræsentative, så vidt muligt fejlfri og fuldstændige og er \
             undersøgt for mulige skævheder (bias)?",
            "Which data governance and management practices apply to the training, validation and testing data, \
             and how is it shown that the data are relevant, sufficiently representative, to the best extent \
             possible free of errors and complete, and examined for possible biases?",
        ),
    ),
    req(
        "ai-act-art-10-5",
        Source::AiAct,
        t("AI-forordningen art. 10, stk. 5", "AI Act Art. 10(5)"),
        t(
            "Særlige kategorier af personoplysninger til påvisning af bias",
            "Special categories of personal data for bias detection",
        ),
        t(
            "Behandles særlige kategorier af personoplysninger for at påvise og korrigere bias? Hvis ja: hvorfor \
             er det strengt nødvendigt, hvorfor kan syntetiske eller anonymiserede data ikke bruges, og hvilke \
             garantier gælder (pseudonymisering, adgangskontrol, ingen videregivelse, sletning, fortegnelse over \
             behandlingsaktiviteter)?",
            "Are special categories of personal data processed to detect and correct bias? If so, why is it \
             strictly necessary, why could synthetic or anonymised data not serve, and which safeguards apply \
             (pseudonymisation, access control, no transmission to other parties, deletion, records of \
             processing activities)?",
        ),
    ),
    req(
        "ai-act-art-11",
        Source::AiAct,
        t("AI-forordningen art. 11", "AI Act Art. 11"),
        t("Teknisk dokumentation", "Technical documentation"),
        t(
            "Er den tekniske dokumentation udarbejdet, før systemet bringes i omsætning eller ibrugtages, holdes \
             den ajour, og indeholder den som minimum elementerne i bilag IV?",
            "Is the technical documentation drawn up before the system is placed on the market or put into \
             service, is it kept up to date, and does it contain at least the elements set out in Annex IV?",
        ),
    ),
    req(
        "ai-act-annex-iv-1",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 1", "AI Act Annex IV, point 1"),
        t(
            "Generel beskrivelse af AI-systemet",
            "General description of the AI system",
        ),
        t(
            "Hvor findes den generelle beskrivelse af systemet: det tilsigtede formål, udbyderen, versionen, \
             samspillet med andet hardware og software og brugsanvisningen til idriftsætteren?",
            "Where is the general description of the system: its intended purpose, the provider, the version, \
             its interaction with other hardware and software, and the instructions for use for the deployer?",
        ),
    ),
    req(
        "ai-act-annex-iv-2",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 2", "AI Act Annex IV, point 2"),
        t(
            "Systemets elementer og udviklingsproces",
            "Elements of the system and its development process",
        ),
        t(
            "Hvor er udviklingsmetoder, designvalg og antagelser, systemarkitektur, træningsdata (oprindelse, \
             udvælgelse, mærkning, rensning), validerings- og afprøvningsprocedurer med de anvendte målinger, \
             herunder af potentielt diskriminerende virkninger, og cybersikkerhedsforanstaltninger beskrevet?",
            "Where are the development methods, design choices and assumptions, system architecture, training \
             data (provenance, selection, labelling, cleaning), validation and testing procedures with the \
             metrics used, including for potentially discriminatory impacts, and cybersecurity measures \
             described?",
        ),
    ),
    req(
        "ai-act-annex-iv-3",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 3", "AI Act Annex IV, point 3"),
        t(
            "Overvågning, funktion og kontrol af systemet",
            "Monitoring, functioning and control of the system",
        ),
        t(
            "Hvilke kapaciteter og begrænsninger har systemets ydeevne, herunder nøjagtigheden for bestemte \
             personer eller grupper af personer, hvilke utilsigtede resultater og risikokilder kan forudses, og \
             hvilke foranstaltninger til menneskeligt tilsyn og specifikationer for inputdata gælder?",
            "What are the capabilities and limitations of the system's performance, including its accuracy for \
             specific persons or groups of persons, which unintended outcomes and sources of risk are \
             foreseeable, and which human oversight measures and input data specifications apply?",
        ),
    ),
    req(
        "ai-act-annex-iv-4",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 4", "AI Act Annex IV, point 4"),
        t(
            "Præstationsmålenes egnethed",
            "Appropriateness of the performance metrics",
        ),
        t(
            "Hvorfor er de valgte præstationsmål egnede for netop dette AI-system?",
            "Why are the chosen performance metrics appropriate for this specific AI system?",
        ),
    ),
    req(
        "ai-act-annex-iv-5",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 5", "AI Act Annex IV, point 5"),
        t(
            "Beskrivelse af risikostyringssystemet",
            "Description of the risk management system",
        ),
        t(
            "Hvor er risikostyringssystemet efter artikel 9 beskrevet i detaljer?",
            "Where is the risk management system under Article 9 described in detail?",
        ),
    ),
    req(
        "ai-act-annex-iv-6",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 6", "AI Act Annex IV, point 6"),
        t(
            "Ændringer i systemets livscyklus",
            "Changes through the system's lifecycle",
        ),
        t(
            "Hvilke relevante ændringer har udbyderen foretaget i systemet i dets livscyklus, og hvor er de \
             beskrevet?",
            "Which relevant changes has the provider made to the system through its lifecycle, and where are \
             they described?",
        ),
    ),
    req(
        "ai-act-annex-iv-7",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 7", "AI Act Annex IV, point 7"),
        t("Anvendte harmoniserede standarder", "Harmonised standards applied"),
        t(
            "Hvilke harmoniserede standarder anvendes helt eller delvis, eller, hvis ingen anvendes, hvilke \
             løsninger er valgt for at opfylde kravene i kapitel III, afdeling 2?",
            "Which harmonised standards are applied in full or in part, or, where none are applied, which \
             solutions are adopted to meet the requirements of Chapter III, Section 2?",
        ),
    ),
    req(
        "ai-act-annex-iv-8",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 8", "AI Act Annex IV, point 8"),
        t("EU-overensstemmelseserklæring", "EU declaration of conformity"),
        t(
            "Indeholder dokumentationen en kopi af EU-overensstemmelseserklæringen efter artikel 47?",
            "Does the documentation include a copy of the EU declaration of conformity under Article 47?",
        ),
    ),
    req(
        "ai-act-annex-iv-9",
        Source::AiAct,
        t("AI-forordningen bilag IV, punkt 9", "AI Act Annex IV, point 9"),
        t(
            "Evaluering af ydeevnen efter omsætningen",
            "Post-market evaluation of performance",
        ),
        t(
            "Hvordan evalueres systemets ydeevne, efter at det er bragt i omsætning, herunder planen for \
             overvågning efter omsætningen efter artikel 72, stk. 3?",
            "How is the system's performance evaluated in the post-market phase, including the post-market \
             monitoring plan under Article 72(3)?",
        ),
    ),
    req(
        "ai-act-art-12",
        Source::AiAct,
        t("AI-forordningen art. 12", "AI Act Art. 12"),
        t("Registrering (logning)", "Record-keeping (logging)"),
        t(
            "Registrerer systemet automatisk hændelser (logfiler) i hele sin levetid, så situationer med risiko \
             og væsentlige ændringer kan identificeres, og så overvågningen efter omsætningen og driften kan \
             følges?",
            "Does the system automatically record events (logs) over its lifetime, so that situations that may \
             present a risk and substantial modifications can be identified, and post-market monitoring and \
             operation can be followed?",
        ),
    ),
    req(
        "ai-act-art-13",
        Source::AiAct,
        t("AI-forordningen art. 13", "AI Act Art. 13"),
        t(
            "Gennemsigtighed og formidling af oplysninger til idriftsættere",
            "Transparency and provision of information to deployers",
        ),
        t(
            "Er systemets funktion tilstrækkelig gennemsigtig til, at myndigheden som idriftsætter kan fortolke \
             dets output og anvende det korrekt, og angiver brugsanvisningen systemets egenskaber, kapaciteter, \
             begrænsninger og nøjagtighedsniveau?",
            "Is the system's operation sufficiently transparent for the authority as deployer to interpret its \
             output and use it appropriately, and do the instructions for use state its characteristics, \
             capabilities, limitations and level of accuracy?",
        ),
    ),
    req(
        "ai-act-art-14",
        Source::AiAct,
        t("AI-forordningen art. 14", "AI Act Art. 14"),
        t("Menneskeligt tilsyn", "Human oversight"),
        t(
            "Hvordan kan de personer, der fører tilsyn med systemet, forstå dets kapaciteter og begrænsninger, \
             være opmærksomme på automatiseringsbias, fortolke dets output, se bort fra, tilsidesætte eller \
             omgøre det og afbryde systemet?",
            "How can the persons overseeing the system understand its capacities and limitations, remain aware \
             of automation bias, interpret its output, disregard, override or reverse it, and interrupt the \
             system?",
        ),
    ),
    req(
        "ai-act-art-15",
        Source::AiAct,
        t("AI-forordningen art. 15", "AI Act Art. 15"),
        t(
            "Nøjagtighed, robusthed og cybersikkerhed",
            "Accuracy, robustness and cybersecurity",
        ),
        t(
            "Hvilket niveau af nøjagtighed, robusthed og cybersikkerhed opnår systemet, og fastholdes det i \
             hele livscyklussen; hvilke nøjagtighedsmål er angivet, og hvordan modstår systemet fejl, \
             feedbacksløjfer og angreb som dataforgiftning og fjendtlige eksempler?",
            "Which level of accuracy, robustness and cybersecurity does the system achieve, and is it kept \
             throughout the lifecycle; which accuracy metrics are declared, and how is the system resilient to \
             errors, feedback loops and attacks such as data poisoning and adversarial examples?",
        ),
    ),
    req(
        "ai-act-art-17",
        Source::AiAct,
        t("AI-forordningen art. 17", "AI Act Art. 17"),
        t("Kvalitetsstyringssystem", "Quality management system"),
        t(
            "Findes der et kvalitetsstyringssystem, dokumenteret i skriftlige politikker, procedurer og \
             instrukser, der bl.a. dækker design, afprøvning og validering, datahåndtering, risikostyring, \
             overvågning efter omsætningen, indberetning af alvorlige hændelser og ansvarsfordeling?",
            "Is there a quality management system, documented in written policies, procedures and \
             instructions, covering among other things design, testing and validation, data management, risk \
             management, post-market monitoring, reporting of serious incidents and accountability?",
        ),
    ),
    req(
        "gdpr-art-22",
        Source::Gdpr,
        t("Databeskyttelsesforordningen art. 22", "GDPR Art. 22"),
        t(
            "Automatiske individuelle afgørelser, herunder profilering",
            "Automated individual decision-making, including profiling",
        ),
        t(
            "Vil afgørelser med retsvirkning eller tilsvarende betydelige følger for borgeren udelukkende være \
             baseret på automatisk behandling? Hvis ja: hvilken hjemmel i EU-retten eller dansk ret tillader \
             det, og hvilke garantier for borgerens rettigheder gælder? Hvis nej: hvad gør den menneskelige \
             medvirken reel?",
            "Will decisions with legal or similarly significant effects for the citizen be based solely on \
             automated processing? If so, which Union or Danish law authorises it, and which safeguards for \
             the citizen's rights apply? If not, what makes the human involvement meaningful?",
        ),
    ),
    req(
        "gdpr-art-35",
        Source::Gdpr,
        t("Databeskyttelsesforordningen art. 35", "GDPR Art. 35"),
        t(
            "Konsekvensanalyse vedrørende databeskyttelse",
            "Data protection impact assessment",
        ),
        t(
            "Er der før behandlingen foretaget en konsekvensanalyse, der beskriver behandlingen og dens formål, \
             vurderer dens nødvendighed og proportionalitet og risiciene for de registreredes rettigheder og \
             frihedsrettigheder og angiver foranstaltningerne mod dem?",
            "Has an impact assessment been carried out before the processing that describes the processing and \
             its purposes, assesses its necessity and proportionality and the risks to the rights and freedoms \
             of data subjects, and sets out the measures to address them?",
        ),
    ),
    req(
        "fvl-22",
        Source::Forvaltningsloven,
        t("Forvaltningsloven § 22", "Public Administration Act § 22"),
        t("Begrundelse for skriftlige afgørelser", "Reasons for written decisions"),
        t(
            "Når en afgørelse, som systemet understøtter, meddeles skriftligt uden fuldt ud at give parten \
             medhold, hvordan ledsages den da af en begrundelse?",
            "When a decision supported by the system is given in writing and does not fully grant the party's \
             request, how is it accompanied by reasons?",
        ),
    ),
    req(
        "fvl-23",
        Source::Forvaltningsloven,
        t("Forvaltningsloven § 23", "Public Administration Act § 23"),
        t("Skriftlig begrundelse efter anmodning", "Written reasons on request"),
        t(
            "Når en afgørelse ikke er meddelt skriftligt, kan myndigheden så give en skriftlig begrundelse, hvis \
             parten beder om det inden 14 dage, også når systemet har bidraget til afgørelsen?",
            "When a decision is not given in writing, can the authority give written reasons if the party asks \
             within 14 days, also where the system contributed to the decision?",
        ),
    ),
    req(
        "fvl-24",
        Source::Forvaltningsloven,
        t("Forvaltningsloven § 24", "Public Administration Act § 24"),
        t("Begrundelsens indhold", "Content of the reasons"),
        t(
            "Kan begrundelsen henvise til de retsregler, afgørelsen er truffet efter, angive de hovedhensyn, der \
             har været bestemmende for skønnet, og om nødvendigt kort redegøre for de faktiske omstændigheder, \
             der er tillagt væsentlig betydning, herunder hvad systemets output har bidraget med?",
            "Can the reasons refer to the legal rules the decision is made under, state the main considerations \
             that decided the discretionary assessment and, where needed, briefly account for the facts given \
             essential weight, including what the system's output contributed?",
        ),
    ),
    req(
        "etnisk-ligebehandling",
        Source::EtniskLigebehandling,
        t("Lov om etnisk ligebehandling § 3", "Act on Ethnic Equal Treatment § 3"),
        t(
            "Forbud mod forskelsbehandling på grund af race eller etnisk oprindelse",
            "Prohibition of discrimination on grounds of race or ethnic origin",
        ),
        t(
            "Hvordan sikres det, at systemet ikke medfører direkte eller indirekte forskelsbehandling på grund \
             af race eller etnisk oprindelse, også gennem stedfortrædende variable som bopælskommune, og hvilke \
             målinger fra sandkassen viser det?",
            "How is it ensured that the system does not lead to direct or indirect discrimination on grounds of \
             race or ethnic origin, also through proxy variables such as municipality of residence, and which \
             measurements from the sandbox show it?",
        ),
    ),
];
