//! The catalogue is well formed: ids unique and stable in shape, every text present in both
//! languages, every act and all of Annex IV covered; a blank checklist is all open.

use std::collections::HashSet;

use checklist::{CATALOGUE_LEN, Checklist, Lang, RequirementId, Source, Status, catalogue};

#[test]
fn ids_are_unique_parse_to_themselves_and_have_a_stable_shape() {
    let mut seen = HashSet::new();
    for (i, r) in catalogue().iter().enumerate() {
        let id = r.id.as_str();
        assert!(seen.insert(id), "{id} twice");
        assert!(
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{id}"
        );
        assert_eq!(RequirementId::parse(id).unwrap(), r.id);
        assert_eq!(r.id.index(), i);
        assert_eq!(r.id.requirement(), r);
    }
    assert_eq!(catalogue().len(), CATALOGUE_LEN);
    assert!(RequirementId::parse("AI-ACT-ART-9").is_err(), "ids are exact");
}

#[test]
fn every_text_is_present_in_danish_and_english() {
    for r in catalogue() {
        for (what, text) in [("article", r.article), ("title", r.title), ("question", r.question)] {
            for lang in [Lang::Da, Lang::En] {
                let s = text.get(lang);
                assert!(!s.trim().is_empty(), "{} {what} {lang:?} is empty", r.id);
                assert_eq!(s, s.trim(), "{} {what} {lang:?} has spaces at an end", r.id);
                assert!(
                    !s.contains("  ") && !s.contains('\n'),
                    "{} {what} {lang:?}: {s:?}",
                    r.id
                );
            }
            assert_ne!(text.da, text.en, "{} {what} is not translated", r.id);
        }
        assert!(
            r.question.da.ends_with('?') && r.question.en.ends_with('?'),
            "{} asks no question",
            r.id
        );
    }
    for source in Source::ALL {
        assert!(!source.label(Lang::Da).is_empty() && !source.label(Lang::En).is_empty());
    }
    for status in Status::ALL {
        assert_ne!(status.label(Lang::Da), status.label(Lang::En));
        assert_eq!(Status::parse(status.as_str()).unwrap(), status);
    }
}

#[test]
fn the_catalogue_covers_every_act_and_annex_iv_point_by_point() {
    let ids: Vec<&str> = catalogue().iter().map(|r| r.id.as_str()).collect();
    for expected in [
        "ai-act-art-9",
        "ai-act-art-10",
        "ai-act-art-10-5",
        "ai-act-art-11",
        "ai-act-art-12",
        "ai-act-art-13",
        "ai-act-art-14",
        "ai-act-art-15",
        "ai-act-art-17",
        "gdpr-art-22",
        "gdpr-art-35",
        "fvl-22",
        "fvl-23",
        "fvl-24",
        "etnisk-ligebehandling",
    ] {
        assert!(ids.contains(&expected), "{expected} missing");
    }
    for point in 1..=9 {
        let id = format!("ai-act-annex-iv-{point}");
        let r = RequirementId::parse(&id).unwrap().requirement();
        assert_eq!(r.source, Source::AiAct);
        assert_eq!(r.article.en, format!("AI Act Annex IV, point {point}"));
        assert_eq!(r.article.da, format!("AI-forordningen bilag IV, punkt {point}"));
    }
    for source in Source::ALL {
        assert!(
            catalogue().iter().any(|r| r.source == source),
            "{source} has no requirement"
        );
    }
    // Grouped by act, in the order of Source::ALL, so a reader meets each act once.
    let order: Vec<usize> = catalogue()
        .iter()
        .map(|r| Source::ALL.iter().position(|&s| s == r.source).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
}

#[test]
fn a_blank_checklist_has_one_open_item_per_requirement_in_order() {
    let blank = Checklist::blank();
    assert_eq!(blank.items().len(), catalogue().len());
    for (item, r) in blank.items().iter().zip(catalogue()) {
        assert_eq!(item.requirement(), r.id);
        assert_eq!(item.status(), Status::Open);
        assert!(item.answer().is_empty() && item.evidence().is_empty());
    }
    assert_eq!(blank.catalogue_version(), checklist::CATALOGUE_VERSION);
}
