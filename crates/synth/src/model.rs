//! The vocabulary of the population model: categorical variables as enums (so that an invalid
//! category cannot exist) and the [`Citizen`] every scenario starts from.

macro_rules! categorical {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            /// Every value, in code order (the order of the Arrow dictionary).
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The labels written to datasets, in code order.
            pub const LABELS: &'static [&'static str] = &[$($label),+];

            pub fn label(self) -> &'static str {
                Self::LABELS[self as usize]
            }

            pub fn from_label(s: &str) -> Option<Self> {
                Self::LABELS.iter().position(|l| *l == s).map(|i| Self::ALL[i])
            }
        }
    };
}

categorical!(
    /// Statistics Denmark's origin classification, split by Western / non-Western country.
    Origin {
        Danish = "danish",
        ImmigrantWestern = "immigrant_western",
        ImmigrantNonWestern = "immigrant_non_western",
        DescendantWestern = "descendant_western",
        DescendantNonWestern = "descendant_non_western",
    }
);

impl Origin {
    pub fn is_danish(self) -> bool {
        self == Origin::Danish
    }
    pub fn is_immigrant(self) -> bool {
        matches!(self, Origin::ImmigrantWestern | Origin::ImmigrantNonWestern)
    }
    pub fn is_non_western(self) -> bool {
        matches!(self, Origin::ImmigrantNonWestern | Origin::DescendantNonWestern)
    }
}

categorical!(
    /// Highest completed education, grouped like ISCED 2011 levels.
    Education {
        /// Under 16: still in compulsory school.
        InSchool = "in_school",
        /// ISCED 1-2.
        Basic = "basic",
        /// ISCED 3, general (gymnasium).
        UpperSecondary = "upper_secondary",
        /// ISCED 3-4, vocational (erhvervsuddannelse).
        Vocational = "vocational",
        /// ISCED 5.
        ShortCycle = "short_cycle",
        /// ISCED 6.
        Bachelor = "bachelor",
        /// ISCED 7-8.
        MasterPhd = "master_phd",
    }
);

impl Education {
    /// The ISCED 2011 level written beside the category (the top of the range).
    pub fn isced(self) -> u8 {
        match self {
            Education::InSchool => 1,
            Education::Basic => 2,
            Education::UpperSecondary => 3,
            Education::Vocational => 4,
            Education::ShortCycle => 5,
            Education::Bachelor => 6,
            Education::MasterPhd => 7,
        }
    }

    /// An ordinal score used by the causal model (0 = basic … 4 = master/PhD).
    pub fn score(self) -> f64 {
        match self {
            Education::InSchool | Education::Basic => 0.0,
            Education::UpperSecondary | Education::Vocational => 1.0,
            Education::ShortCycle => 2.0,
            Education::Bachelor => 3.0,
            Education::MasterPhd => 4.0,
        }
    }
}

categorical!(
    /// Main activity.
    Employment {
        Child = "child",
        Student = "student",
        Employed = "employed",
        Unemployed = "unemployed",
        OutsideLabourForce = "outside_labour_force",
        Retired = "retired",
    }
);

categorical!(
    /// Household type (DST-like families).
    Household {
        Single = "single",
        CoupleNoChildren = "couple_no_children",
        CoupleWithChildren = "couple_with_children",
        SingleParent = "single_parent",
        ChildAtHome = "child_at_home",
        Other = "other",
    }
);

/// The base features of one synthetic citizen, before a scenario adds its own.
#[derive(Debug, Clone, Copy)]
pub struct Citizen {
    /// Birth date, days since 1970-01-01.
    pub birth: i32,
    pub age: u8,
    pub male: bool,
    /// Fictitious CPR number, `DDMMYY-SSSS`.
    pub cpr: [u8; 11],
    pub origin: Origin,
    /// Index into the country table; `None` for Danish origin.
    pub country: Option<u16>,
    /// Index into the municipality table.
    pub municipality: u8,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub education: Education,
    pub chronic_conditions: u8,
    pub employment: Employment,
    pub income_dkk: i32,
    pub household: Household,
    pub n_children: u8,
    pub hospital_days: u16,
}

impl Citizen {
    pub fn living_alone(&self) -> bool {
        self.household == Household::Single
    }
}
