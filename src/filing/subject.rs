//! 主办单位性质: the kind of subject (主体) that filed a site, as the input's
//! `subject_type` field names it (SPEC §3, §6).
//!
//! Owns the vocabulary only: the kinds, their Chinese names as the MIIT
//! filing system writes them, and the English aliases the input accepts.
//! Which names fit which kind is the `site-name` rule's judgement
//! (`rules::name_subject`).

use std::fmt;

use super::normalize;

/// The kind of subject that filed a site (主办单位性质).
///
/// SPEC §3 lists 个人 … 群众性团体组织 and 其他; the MIIT filing system has a
/// few more kinds, accepted too so that an export from it reads as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectType {
    /// 个人: a private person.
    Individual,
    /// 企业: a company.
    Enterprise,
    /// 政府机关: a government body.
    Government,
    /// 事业单位: a public institution.
    PublicInstitution,
    /// 社会团体: a social organisation.
    SocialOrganisation,
    /// 民办非企业单位: a private non-enterprise unit.
    PrivateNonEnterprise,
    /// 基金会: a foundation.
    Foundation,
    /// 律师执业机构: a law firm.
    LawFirm,
    /// 群众性团体组织: a mass organisation.
    MassOrganisation,
    /// 外国在华文化中心: a foreign cultural centre in China.
    ForeignCulturalCentre,
    /// 司法鉴定机构: a forensic appraisal institution.
    ForensicInstitution,
    /// 宗教团体: a religious organisation.
    ReligiousOrganisation,
    /// 境外机构: an organisation from outside the mainland.
    OverseasOrganisation,
    /// 医疗机构: a medical institution.
    MedicalInstitution,
    /// 公证机构: a notary office.
    Notary,
    /// 集体经济: a collective economic organisation.
    CollectiveEconomy,
    /// 其他: any other kind.
    Other,
}

/// Every kind with its Chinese name and the other spellings the input
/// accepts (matched after NFKC, ignoring case; `_` and spaces read as `-`).
const NAMES: &[(SubjectType, &str, &[&str])] = &[
    (
        SubjectType::Individual,
        "个人",
        &["individual", "person", "personal"],
    ),
    (
        SubjectType::Enterprise,
        "企业",
        &["company", "enterprise", "business"],
    ),
    (
        SubjectType::Government,
        "政府机关",
        &["government", "government-agency", "gov"],
    ),
    (
        SubjectType::PublicInstitution,
        "事业单位",
        &["institution", "public-institution"],
    ),
    (
        SubjectType::SocialOrganisation,
        "社会团体",
        &["social-organization", "social-organisation", "association"],
    ),
    (
        SubjectType::PrivateNonEnterprise,
        "民办非企业单位",
        &["private-non-enterprise", "non-enterprise"],
    ),
    (SubjectType::Foundation, "基金会", &["foundation"]),
    (SubjectType::LawFirm, "律师执业机构", &["law-firm"]),
    (
        SubjectType::MassOrganisation,
        "群众性团体组织",
        &["mass-organization", "mass-organisation"],
    ),
    (
        SubjectType::ForeignCulturalCentre,
        "外国在华文化中心",
        &["foreign-cultural-center", "foreign-cultural-centre"],
    ),
    (
        SubjectType::ForensicInstitution,
        "司法鉴定机构",
        &["forensic-institution"],
    ),
    (
        SubjectType::ReligiousOrganisation,
        "宗教团体",
        &["religious-organization", "religious-organisation"],
    ),
    (
        SubjectType::OverseasOrganisation,
        "境外机构",
        &["overseas-organization", "overseas-organisation"],
    ),
    (
        SubjectType::MedicalInstitution,
        "医疗机构",
        &["medical-institution"],
    ),
    (SubjectType::Notary, "公证机构", &["notary"]),
    (
        SubjectType::CollectiveEconomy,
        "集体经济",
        &["农村集体经济组织", "collective-economy"],
    ),
    (SubjectType::Other, "其他", &["其它", "other"]),
];

impl SubjectType {
    /// Read an input value: the Chinese name or an English alias.
    ///
    /// # Errors
    ///
    /// A message naming every accepted value, for the `input-invalid`
    /// finding, when the text is none of them.
    pub fn parse(text: &str) -> Result<SubjectType, String> {
        let key = normalize(text).to_lowercase().replace(['_', ' '], "-");
        NAMES
            .iter()
            .find(|(_, zh, aliases)| *zh == key || aliases.contains(&key.as_str()))
            .map(|(kind, _, _)| *kind)
            .ok_or_else(|| {
                format!(
                    "subject_type {text:?} is not a subject type (主办单位性质); write one of {}",
                    SubjectType::accepted()
                )
            })
    }

    /// The Chinese name, as the filing system writes it (`个人`, `企业` …).
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        NAMES
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or("其他", |(_, zh, _)| zh)
    }

    /// Whether the kind may use public-affairs words such as 政府 or 监察 in
    /// its names: government bodies and public institutions (SPEC §6).
    #[must_use]
    pub fn is_public_body(self) -> bool {
        matches!(
            self,
            SubjectType::Government | SubjectType::PublicInstitution
        )
    }

    /// The accepted values, for messages: each Chinese name with its first
    /// English alias.
    #[must_use]
    pub fn accepted() -> String {
        NAMES
            .iter()
            .map(
                |(_, zh, aliases)| match aliases.iter().find(|a| a.is_ascii()) {
                    Some(en) => format!("{zh} ({en})"),
                    None => (*zh).to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SubjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name_zh())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::individual_zh("个人", SubjectType::Individual)]
    #[case::individual_en("individual", SubjectType::Individual)]
    #[case::individual_padded_upper("  Individual ", SubjectType::Individual)]
    #[case::company("company", SubjectType::Enterprise)]
    #[case::enterprise("Enterprise", SubjectType::Enterprise)]
    #[case::enterprise_zh("企业", SubjectType::Enterprise)]
    #[case::government("government", SubjectType::Government)]
    #[case::government_zh("政府机关", SubjectType::Government)]
    #[case::institution("institution", SubjectType::PublicInstitution)]
    #[case::institution_zh("事业单位", SubjectType::PublicInstitution)]
    #[case::social_underscore("social_organization", SubjectType::SocialOrganisation)]
    #[case::social_zh("社会团体", SubjectType::SocialOrganisation)]
    #[case::non_enterprise("民办非企业单位", SubjectType::PrivateNonEnterprise)]
    #[case::foundation("基金会", SubjectType::Foundation)]
    #[case::law_firm("律师执业机构", SubjectType::LawFirm)]
    #[case::mass("群众性团体组织", SubjectType::MassOrganisation)]
    #[case::foreign_centre("外国在华文化中心", SubjectType::ForeignCulturalCentre)]
    #[case::forensic("司法鉴定机构", SubjectType::ForensicInstitution)]
    #[case::religious("宗教团体", SubjectType::ReligiousOrganisation)]
    #[case::overseas("境外机构", SubjectType::OverseasOrganisation)]
    #[case::medical("医疗机构", SubjectType::MedicalInstitution)]
    #[case::notary("公证机构", SubjectType::Notary)]
    #[case::collective("农村集体经济组织", SubjectType::CollectiveEconomy)]
    #[case::other("其他", SubjectType::Other)]
    #[case::other_variant("其它", SubjectType::Other)]
    #[case::full_width_latin("ｃｏｍｐａｎｙ", SubjectType::Enterprise)]
    fn subject_types_parse(#[case] text: &str, #[case] want: SubjectType) {
        assert_eq!(SubjectType::parse(text), Ok(want));
    }

    #[rstest]
    #[case::unknown_word("公司")]
    #[case::empty_after_trim("   ")]
    #[case::typo("individul")]
    fn unknown_subject_types_name_the_accepted_values(#[case] text: &str) {
        let err = SubjectType::parse(text).unwrap_err();
        for accepted in [
            "个人 (individual)",
            "企业 (company)",
            "政府机关 (government)",
            "其他 (other)",
        ] {
            assert!(err.contains(accepted), "{err}");
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_chinese_name() {
        for (kind, zh, _) in NAMES {
            assert_eq!(kind.name_zh(), *zh);
            assert_eq!(SubjectType::parse(zh), Ok(*kind));
            assert_eq!(kind.to_string(), *zh);
        }
    }

    #[rstest]
    #[case::government(SubjectType::Government, true)]
    #[case::institution(SubjectType::PublicInstitution, true)]
    #[case::company(SubjectType::Enterprise, false)]
    #[case::individual(SubjectType::Individual, false)]
    #[case::social(SubjectType::SocialOrganisation, false)]
    fn public_bodies(#[case] kind: SubjectType, #[case] public: bool) {
        assert_eq!(kind.is_public_body(), public);
    }
}
