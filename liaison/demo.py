"""A fictional demo directory, accounts and mini-network groups, for trying Liaison out.

Everything here is invented: people, municipalities, wellbeing services counties,
email domains (``.example``) and phone numbers. There are no personal identity
codes. The directory is a semicolon CSV, as Finnish Excel writes it, and goes
through the real import, so the demo also shows the import format.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.services.ring_config import apply_ring_config
from liaison.store.models import Organisation, Person, Unit

__all__ = ["DEMO_PASSWORD", "DemoLogin", "demo_directory_csv", "demo_username", "seed_demo"]

# Public on purpose: the demo is for trying Liaison out, never for real data.
DEMO_PASSWORD = "demo-salasana"  # noqa: S105


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    description: str


_KELA = "Kela"
_JARVI = "Järvi-Suomen hyvinvointialue"
_RANNIKKO = "Rannikon hyvinvointialue"
_POHJOINEN = "Pohjoisen hyvinvointialue"

_ORGANISATIONS: dict[str, tuple[str, str]] = {
    # name: (kind, email domain)
    _KELA: ("kela", "kela.example"),
    _JARVI: ("social_services", "jarvisuomi.hyvinvointialue.example"),
    _RANNIKKO: ("social_services", "rannikko.hyvinvointialue.example"),
    _POHJOINEN: ("social_services", "pohjoinen.hyvinvointialue.example"),
}

# unit: (organisation, unit kind, area). Areas are shared words: a Kela liaison team and
# the county it serves have the same area, so an area search finds both sides.
_UNITS: dict[str, tuple[str, str, str]] = {
    "Itäinen vakuutuspiiri": (_KELA, "insurance_district", ""),
    "Turvatiimi Itä: perustoimeentulotuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Itä: asumistuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Itä: työttömyysturva": (_KELA, "benefit_team", ""),
    "Asiakaspalvelu Itä": (_KELA, "customer_service", ""),
    "Kuntayhteistyö Järvi-Suomi": (_KELA, "benefit_team", "Järvi-Suomi"),
    "Kuntayhteistyö Pohjoinen": (_KELA, "benefit_team", "Pohjoinen"),
    "Läntinen vakuutuspiiri": (_KELA, "insurance_district", ""),
    "Turvatiimi Länsi: perustoimeentulotuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Länsi: asumistuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Länsi: työttömyysturva": (_KELA, "benefit_team", ""),
    "Asiakaspalvelu Länsi": (_KELA, "customer_service", ""),
    "Kuntayhteistyö Rannikko": (_KELA, "benefit_team", "Rannikko"),
    "Järvi-Suomi: aikuissosiaalityö": (_JARVI, "wellbeing_county", "Järvi-Suomi"),
    "Kuusilahti": (_JARVI, "municipality", "Järvi-Suomi"),
    "Ahvenjärvi": (_JARVI, "municipality", "Järvi-Suomi"),
    "Salmela": (_JARVI, "municipality", "Järvi-Suomi"),
    "Rannikko: aikuissosiaalityö": (_RANNIKKO, "wellbeing_county", "Rannikko"),
    "Merikylä": (_RANNIKKO, "municipality", "Rannikko"),
    "Saarenpää": (_RANNIKKO, "municipality", "Rannikko"),
    "Kaislaranta": (_RANNIKKO, "municipality", "Rannikko"),
    "Pohjoinen: aikuissosiaalityö": (_POHJOINEN, "wellbeing_county", "Pohjoinen"),
    "Tunturila": (_POHJOINEN, "municipality", "Pohjoinen"),
    "Jokivarsi": (_POHJOINEN, "municipality", "Pohjoinen"),
}

_BASIC = "basic_social_assistance"
_HOUSING = "housing_allowance"
_UNEMPLOYMENT = "unemployment_security"
_SECURITY = f"{_BASIC}, {_HOUSING}, {_UNEMPLOYMENT}"

# first name, last name, title, unit, roles, benefits, languages, ask me about, tags
_People = list[tuple[str, str, str, str, str, str, str, str, str]]
_PEOPLE: _People = [
    # ---- Kela, eastern insurance district
    ("Hannele", "Kinnunen", "palvelujohtaja", "Itäinen vakuutuspiiri", "supervisor", "",
     "fi, en", "Vakuutuspiirin yhteistyö hyvinvointialueiden kanssa ja tiimien kuormitus.",
     "yhteistyösopimukset, johtaminen"),
    ("Markku", "Hyvönen", "ryhmäpäällikkö", "Turvatiimi Itä: perustoimeentulotuki",
     "supervisor", _BASIC, "fi", "Tiimin jonotilanne ja käsittelyajat.",
     "käsittelyajat, perehdytys"),
    ("Sanna", "Korhonen", "ratkaisuasiantuntija", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi, en",
     "Perustoimeentulotuen menot: vuokravakuudet, maksusitoumukset ja välitystili.",
     "vuokravakuus, maksusitoumus, välitystili"),
    ("Juha", "Miettinen", "ratkaisuasiantuntija", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Yrittäjien ja freelancereiden tulot perustoimeentulotuessa.",
     "yrittäjät, tulojen jaksotus"),
    ("Riikka", "Pesonen", "etuuskäsittelijä", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Nuorten aikuisten ja opiskelijoiden toimeentulotukiasiat.",
     "nuoret aikuiset, opiskelijat"),
    ("Kirsi", "Savolainen", "ryhmäpäällikkö", "Turvatiimi Itä: asumistuki", "supervisor",
     _HOUSING, "fi", "Asumistukitiimin työtilanne.", "käsittelyajat"),
    ("Tuomas", "Heikkinen", "ratkaisuasiantuntija", "Turvatiimi Itä: asumistuki",
     "decision_expert", _HOUSING, "fi, en",
     "Yleisen asumistuen ruokakunnat ja tulojen muutokset kesken tukikauden.",
     "ruokakunta, tulomuutokset, vuositarkistus"),
    ("Päivi", "Rautiainen", "ratkaisuasiantuntija", "Turvatiimi Itä: asumistuki",
     "decision_expert", _HOUSING, "fi", "Asumismenot omistus- ja asumisoikeusasunnoissa.",
     "asumismenot, omistusasunto"),
    ("Jari", "Turunen", "etuuskäsittelijä", "Turvatiimi Itä: asumistuki", "decision_expert",
     f"{_HOUSING}, pensioners_housing_allowance", "fi",
     "Siirtymät yleisestä asumistuesta eläkkeensaajan asumistukeen.",
     "eläkkeensaajan asumistuki"),
    ("Mikko", "Laitinen", "ryhmäpäällikkö", "Turvatiimi Itä: työttömyysturva", "supervisor",
     _UNEMPLOYMENT, "fi", "Työttömyysturvatiimin jonot ja sijaisuudet.", "käsittelyajat"),
    ("Elina", "Huttunen", "ratkaisuasiantuntija", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, sv",
     "Työmarkkinatuki ja peruspäiväraha, odotusajat ja karenssit.",
     "työmarkkinatuki, odotusaika, karenssi"),
    ("Antti", "Karjalainen", "ratkaisuasiantuntija", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi", "Soviteltu päiväraha ja lomautukset.",
     "soviteltu päiväraha, lomautus"),
    ("Laura", "Partanen", "etuuskäsittelijä", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, en",
     "Työvoimapoliittiset lausunnot ja yhteistyö työllisyyspalvelujen kanssa.",
     "työvoimapoliittinen lausunto, työllisyyspalvelut"),
    ("Tarja", "Ikonen", "palvelupäällikkö", "Asiakaspalvelu Itä", "supervisor", "", "fi",
     "Palvelupisteiden ja puhelinpalvelun vuorot.", "palvelupisteet, vuorosuunnittelu"),
    ("Aino", "Lehtonen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi, en", "Asiakkaan ohjaus oikealle etuudelle, palvelupiste Kuusilahti.",
     "palvelupiste, etuusneuvonta"),
    ("Ville", "Nieminen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi, en", "Puhelinpalvelu ja maahan muuttaneiden asiakkaiden ohjaus.",
     "puhelinpalvelu, maahanmuuttajat"),
    ("Noora", "Räsänen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi", "Palvelupiste Ahvenjärvi, ajanvarausasiakkaat.",
     "palvelupiste, ajanvaraus"),
    ("Petri", "Hämäläinen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi", "Verkkoasioinnin neuvonta ja liitteiden toimittaminen.",
     "verkkoasiointi, liitteet"),
    ("Minna", "Jääskeläinen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Järvi-Suomi", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "fi", "Järvi-Suomen sosiaalityön yhteydenotot: kiirehtimispyynnöt, lausunnot, "
     "huoli-ilmoitukset.", "kiirehtimispyyntö, lausunto, huoli-ilmoitus"),
    ("Kari", "Hakkarainen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Järvi-Suomi", "municipal_liaison, decision_expert",
     f"{_BASIC}, {_UNEMPLOYMENT}", "fi",
     "Järvi-Suomen asiakkaiden perustoimeentulotuki ja työttömyysturva yhdessä.",
     "kiirehtimispyyntö, etuuksien yhteensovitus"),
    ("Satu", "Väisänen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Pohjoinen", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "fi, en", "Pohjoisen hyvinvointialueen yhteydenotot ja etäasiointi.",
     "kiirehtimispyyntö, etäasiointi"),
    # ---- Kela, western insurance district
    ("Anders", "Lindqvist", "palvelujohtaja", "Läntinen vakuutuspiiri", "supervisor", "",
     "sv, fi, en", "Vakuutuspiirin kaksikielinen palvelu ja yhteistyösopimukset.",
     "kaksikielisyys, yhteistyösopimukset"),
    ("Heidi", "Salonen", "järjestelmäasiantuntija (pääkäyttäjä)", "Läntinen vakuutuspiiri",
     "admin", "", "fi, en", "Liaisonin käyttäjätunnukset, hakemiston tuonti ja ryhmät.",
     "käyttäjätuki, hakemisto"),
    ("Jukka", "Lehtinen", "ryhmäpäällikkö", "Turvatiimi Länsi: perustoimeentulotuki",
     "supervisor", _BASIC, "fi", "Tiimin jonotilanne ja käsittelyajat.", "käsittelyajat"),
    ("Katja", "Mäkelä", "ratkaisuasiantuntija", "Turvatiimi Länsi: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Asiakkaan ohjaaminen hyvinvointialueelle täydentävää ja ehkäisevää tukea varten.",
     "täydentävä toimeentulotuki, ehkäisevä toimeentulotuki, ohjaus sosiaalityöhön"),
    ("Linnea", "Holmström", "ratkaisuasiantuntija", "Turvatiimi Länsi: perustoimeentulotuki",
     "decision_expert", _BASIC, "sv, fi", "Ruotsinkielisten asiakkaiden toimeentulotukiasiat.",
     "ruotsinkieliset asiakkaat"),
    ("Timo", "Salminen", "ryhmäpäällikkö", "Turvatiimi Länsi: asumistuki", "supervisor",
     _HOUSING, "fi", "Asumistukitiimin työtilanne.", "käsittelyajat"),
    ("Johanna", "Virtanen", "ratkaisuasiantuntija", "Turvatiimi Länsi: asumistuki",
     "decision_expert", _HOUSING, "fi, en", "Alivuokralaiset ja yhteistaloudet asumistuessa.",
     "alivuokralainen, yhteistalous"),
    ("Mikael", "Grönroos", "ratkaisuasiantuntija", "Turvatiimi Länsi: asumistuki",
     "decision_expert", _HOUSING, "sv, fi", "Asumistuki ruotsiksi, asumisoikeusasunnot.",
     "ruotsinkieliset asiakkaat, asumisoikeusasunto"),
    ("Pirjo", "Koskinen", "ryhmäpäällikkö", "Turvatiimi Länsi: työttömyysturva", "supervisor",
     _UNEMPLOYMENT, "fi", "Työttömyysturvatiimin jonot.", "käsittelyajat"),
    ("Henna", "Lahtinen", "ratkaisuasiantuntija", "Turvatiimi Länsi: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, en",
     "Kotoutumisen aikainen työttömyysturva ja kotoutumistuki.", "kotoutumistuki"),
    ("Teemu", "Järvinen", "ratkaisuasiantuntija", "Turvatiimi Länsi: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi", "Työttömyysetuuden sovittelu ja keikkatyö.",
     "soviteltu päiväraha, keikkatyö"),
    ("Merja", "Aaltonen", "palvelupäällikkö", "Asiakaspalvelu Länsi", "supervisor", "",
     "fi, sv", "Palvelupisteiden aukioloajat ja puhelinpalvelun vuorot.",
     "palvelupisteet, vuorosuunnittelu"),
    ("Emma", "Nyström", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "sv, fi, en", "Asiakaspalvelu ruotsiksi ja englanniksi.",
     "ruotsinkieliset asiakkaat, englanninkieliset asiakkaat"),
    ("Oskari", "Leino", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "fi", "Puhelinpalvelu, etuuksien yhteensovitus.", "puhelinpalvelu"),
    ("Julia", "Heinonen", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "fi, en", "Palvelupiste Merikylä, nuoret asiakkaat.",
     "palvelupiste, nuoret aikuiset"),
    ("Camilla", "Westerlund", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Rannikko", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "sv, fi", "Rannikon hyvinvointialueen yhteydenotot suomeksi ja ruotsiksi.",
     "kiirehtimispyyntö, ruotsinkieliset asiakkaat"),
    ("Petteri", "Mattila", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Rannikko", "municipal_liaison, decision_expert",
     f"{_BASIC}, {_UNEMPLOYMENT}", "fi", "Rannikon sosiaalityön lausuntopyynnöt.",
     "lausunto, kiirehtimispyyntö"),
    # ---- Järvi-Suomen hyvinvointialue
    ("Marja-Liisa", "Toivonen", "johtava sosiaalityöntekijä", "Järvi-Suomi: aikuissosiaalityö",
     "supervisor", "", "fi", "Aikuissosiaalityön tiimit ja yhteistyö Kelan kanssa.",
     "aikuissosiaalityö, yhteistyö Kelan kanssa"),
    ("Eeva", "Ruotsalainen", "sosiaalityöntekijä", "Kuusilahti", "social_worker", _BASIC,
     "fi, en", "Täydentävä ja ehkäisevä toimeentulotuki, vastuutyöntekijänä toimiminen.",
     "täydentävä toimeentulotuki, ehkäisevä toimeentulotuki, vastuutyöntekijä"),
    ("Janne", "Pitkänen", "sosiaalityöntekijä", "Ahvenjärvi", "social_worker", _BASIC, "fi",
     "Asunnottomuus ja päihdetyö.", "asunnottomuus, päihdetyö"),
    ("Tiina", "Hirvonen", "sosiaaliohjaaja", "Kuusilahti", "social_worker", "", "fi",
     "Nuorten aikuisten talousneuvonta.", "nuoret aikuiset, talousneuvonta"),
    ("Sami", "Kettunen", "sosiaaliohjaaja", "Salmela", "social_worker", _UNEMPLOYMENT, "fi",
     "Kuntouttava työtoiminta ja työllisyyspalvelut.",
     "kuntouttava työtoiminta, työllisyyspalvelut"),
    ("Outi", "Nissinen", "sosiaalityöntekijä", "Salmela", "social_worker", "", "fi",
     "Lapsiperheiden sosiaalityö.", "lapsiperheet, lastensuojelu"),
    ("Reijo", "Kärkkäinen", "sosiaaliohjaaja", "Ahvenjärvi", "social_worker", "", "fi",
     "Ikäihmisten palvelut ja velkaneuvontaan ohjaaminen.", "ikäihmiset, velkaneuvonta"),
    # ---- Rannikon hyvinvointialue
    ("Susanna", "Blomqvist", "johtava sosiaalityöntekijä", "Rannikko: aikuissosiaalityö",
     "supervisor", "", "sv, fi", "Kaksikielinen aikuissosiaalityö.", "kaksikielisyys"),
    ("Fredrik", "Sundström", "sosiaalityöntekijä", "Merikylä", "social_worker", _BASIC,
     "sv, fi", "Ruotsinkieliset asiakkaat ja täydentävä toimeentulotuki.",
     "ruotsinkieliset asiakkaat, täydentävä toimeentulotuki"),
    ("Maria", "Lindroos", "sosiaaliohjaaja", "Merikylä", "social_worker", "", "sv, fi, en",
     "Asumisneuvonta ja vuokrarästit.", "asumisneuvonta, vuokrarästit"),
    ("Heikki", "Rantanen", "sosiaalityöntekijä", "Saarenpää", "social_worker", _BASIC, "fi",
     "Pitkään työttömänä olleiden asiakkaiden sosiaalityö.", "pitkäaikaistyöttömyys"),
    ("Anu", "Leppänen", "sosiaaliohjaaja", "Saarenpää", "social_worker", "", "fi, en",
     "Maahan muuttaneiden asiakkaiden ohjaus ja tulkkauksen järjestäminen.",
     "maahanmuuttajat, tulkkaus"),
    ("Tommi", "Suominen", "sosiaalityöntekijä", "Kaislaranta", "social_worker", _BASIC, "fi",
     "Aikuissosiaalityö ja huoli-ilmoitukset.", "huoli-ilmoitus, aikuissosiaalityö"),
    ("Ida", "Backman", "sosiaaliohjaaja", "Kaislaranta", "social_worker", "", "sv, fi",
     "Nuorten aikuisten tuki ruotsiksi.", "nuoret aikuiset, ruotsinkieliset asiakkaat"),
    # ---- Pohjoisen hyvinvointialue
    ("Raili", "Kemppainen", "johtava sosiaalityöntekijä", "Pohjoinen: aikuissosiaalityö",
     "supervisor", "", "fi", "Aikuissosiaalityö pitkien etäisyyksien alueella.",
     "etäasiointi, yhteistyö Kelan kanssa"),
    ("Juho", "Tervo", "sosiaalityöntekijä", "Tunturila", "social_worker", _BASIC, "fi",
     "Etäasiointi ja asiakkaiden tavoittaminen syrjäkylillä.", "etäasiointi"),
    ("Saara", "Niskanen", "sosiaaliohjaaja", "Tunturila", "social_worker", "", "fi, en",
     "Talousneuvonta ja Kelan etuuksien hakemisessa avustaminen.",
     "talousneuvonta, hakemusapu"),
    ("Ilkka", "Keränen", "sosiaalityöntekijä", "Jokivarsi", "social_worker", _BASIC, "fi, se",
     "Saamenkieliset asiakkaat ja aikuissosiaalityö.", "saamenkieliset asiakkaat"),
    ("Hanna", "Karvonen", "sosiaaliohjaaja", "Jokivarsi", "social_worker", "", "fi",
     "Nuorten aikuisten asuminen ja itsenäistyminen.", "nuoret aikuiset, asuminen"),
    ("Aleksi", "Moilanen", "sosiaalityöntekijä", "Jokivarsi", "social_worker", _BASIC, "fi",
     "Päihde- ja mielenterveysasiakkaiden toimeentulo.", "päihdetyö, mielenterveys"),
    ("Veera", "Ahonen", "sosiaaliohjaaja", "Tunturila", "social_worker", "", "fi",
     "Kuntouttava työtoiminta.", "kuntouttava työtoiminta"),
    ("Paavo", "Kauppinen", "sosiaalityöntekijä", "Pohjoinen: aikuissosiaalityö",
     "social_worker", _BASIC, "fi", "Ehkäisevä toimeentulotuki ja velkajärjestely.",
     "ehkäisevä toimeentulotuki, velkajärjestely"),
]  # fmt: skip

_HEADER = [
    "email",
    "first_name",
    "last_name",
    "title",
    "organisation",
    "organisation_kind",
    "unit",
    "unit_kind",
    "area",
    "roles",
    "benefits",
    "languages",
    "work_phone",
    "ask_me_about",
    "tags",
]


def _ascii(text: str) -> str:
    """ä→a, ö→o, å→a and so on: the accents are dropped, the letters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def demo_username(first_name: str, last_name: str) -> str:
    """firstname.lastname in lower-case ASCII, e.g. "minna.jaaskelainen"."""
    raw = f"{_ascii(first_name)}.{_ascii(last_name)}"
    return "".join(ch for ch in raw if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _email(first_name: str, last_name: str, unit: str) -> str:
    organisation = _UNITS[unit][0]
    return f"{demo_username(first_name, last_name)}@{_ORGANISATIONS[organisation][1]}"


def demo_directory_csv() -> bytes:
    """The demo directory as a semicolon CSV in UTF-8 with a BOM, as Excel saves it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_HEADER)
    for number, person in enumerate(_PEOPLE, start=1):
        first, last, title, unit, roles, benefits, languages, ask, tags = person
        organisation, unit_kind, area = _UNITS[unit]
        kind = _ORGANISATIONS[organisation][0]
        # A made-up direct-dial range, only for the demo: do not call it.
        prefix = "+358 20 634 9" if kind == "kela" else "+358 20 700 9"
        writer.writerow(
            [
                _email(first, last, unit),
                first,
                last,
                title,
                organisation,
                kind,
                unit,
                unit_kind,
                area,
                roles,
                benefits,
                languages,
                f"{prefix}{number:03d}",
                ask,
                tags,
            ]
        )
    return out.getvalue().encode("utf-8-sig")


# (username, description) of the people the demo suggests signing in as.
_LOGINS = [
    ("aino.lehtonen", "service specialist (palveluasiantuntija), Asiakaspalvelu Itä"),
    ("tuomas.heikkinen", "decision expert for housing allowance, Turvatiimi Itä: asumistuki"),
    ("minna.jaaskelainen", "Kela municipal liaison (kuntayhteyshenkilö) for Järvi-Suomi"),
    ("eeva.ruotsalainen", "social worker, Järvi-Suomen hyvinvointialue, Kuusilahti"),
    ("markku.hyvonen", "supervisor (ryhmäpäällikkö), Turvatiimi Itä: perustoimeentulotuki"),
    ("heidi.salonen", "administrator (pääkäyttäjä), Kela"),
]

# Mini-networks: title, creator, other members (usernames), opening messages.
_GROUPS: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    (
        "Miniverkosto Itä: turvaetuudet",
        "aino.lehtonen",
        ["sanna.korhonen", "tuomas.heikkinen", "elina.huttunen", "ville.nieminen"],
        [
            (
                "aino.lehtonen",
                "Hei kaikki! Minulla on asiakas linjalla: hän jäi juuri työttömäksi ja kysyy, "
                "pitääkö asumistuki ja perustoimeentulotuki hakea uudelleen. Kuka ehtii?",
            ),
            (
                "tuomas.heikkinen",
                "Asumistuesta: tulojen muutoksesta tehdään muutosilmoitus, uutta hakemusta "
                "ei tarvita. Tuki tarkistetaan uusien tulojen mukaan.",
            ),
            (
                "elina.huttunen",
                "Työttömyysetuutta haetaan omalla hakemuksella, kun asiakas on ilmoittautunut "
                "työnhakijaksi. Katson tarkemmin, jos kirjaat asiakasviitteen konsultaatioon.",
            ),
            (
                "sanna.korhonen",
                "Perustoimeentulotukea voi hakea heti, vaikka työttömyysetuus olisi vielä "
                "käsittelyssä. Liitteeksi viimeisin palkkalaskelma ja tiliote.",
            ),
        ],
    ),
    (
        "Miniverkosto Länsi: turvaetuudet",
        "emma.nystrom",
        ["katja.makela", "johanna.virtanen", "henna.lahtinen", "oskari.leino"],
        [
            (
                "emma.nystrom",
                "Hei! Ruotsinkielinen asiakas kysyy, miten työmarkkinatuki vaikuttaa "
                "asumistukeen. Onko jollakulla hetki?",
            ),
            (
                "johanna.virtanen",
                "Työmarkkinatuki lasketaan asumistuessa tuloksi. Muutosilmoituksen voi tehdä "
                "verkossa, ja ohje löytyy myös ruotsiksi.",
            ),
        ],
    ),
    (
        "Järvi-Suomi: Kela ja sosiaalipalvelut",
        "minna.jaaskelainen",
        ["kari.hakkarainen", "eeva.ruotsalainen", "janne.pitkanen", "marja-liisa.toivonen"],
        [
            (
                "eeva.ruotsalainen",
                "Huomenta! Asiakkaan perustoimeentulotukihakemus on ollut vireillä kolme "
                "viikkoa ja vuokra erääntyy perjantaina. Puuttuuko hakemuksesta jotain? "
                "Asiakasviite on konsultaatiossa.",
            ),
            (
                "minna.jaaskelainen",
                "Huomenta! Katson asian aamupäivän aikana ja palaan tähän ennen lounasta.",
            ),
            (
                "marja-liisa.toivonen",
                "Kiitos! Sovitaanko samalla ensi viikolle lyhyt palaveri kuntayhteistyön "
                "käytännöistä?",
            ),
        ],
    ),
]


def _logins() -> list[DemoLogin]:
    names = {demo_username(p[0], p[1]): f"{p[0]} {p[1]}" for p in _PEOPLE}
    return [DemoLogin(username, names[username], text) for username, text in _LOGINS]


async def seed_demo(core: Core) -> list[DemoLogin]:
    """Fills an empty database with the demo directory, accounts, groups and messages.

    Idempotent: when anyone is in the directory already, nothing is touched (a real
    directory is never mixed with demo people). Returns the logins worth showing;
    every demo account has the password DEMO_PASSWORD.
    """
    async with core.db() as db:
        if await db.scalar(select(Person.id).limit(1)) is not None:
            return _logins()

    report = await import_directory(core.db, "demo.csv", demo_directory_csv(), dry_run=False)
    if not report.applied:
        # The demo data is ours: an error here is a bug, not a user mistake.
        raise RuntimeError(f"the demo directory did not import: {report.to_dict()['errors']}")

    async with core.db() as db:
        people = (await db.execute(select(Person.id, Person.email, Person.roles))).all()
    ids: dict[str, int] = {}
    for person_id, email, roles in people:
        username = email.split("@", 1)[0]
        ids[username] = person_id
        await core.accounts.create_account(
            username, DEMO_PASSWORD, person_id, is_admin="admin" in roles
        )

    client_number = 0
    for title, creator, members, messages in _GROUPS:
        group = await core.chat.create_group(ids[creator], title, [ids[m] for m in members])
        for sender, body in messages:
            client_number += 1
            await core.chat.send(ids[sender], group["id"], f"demo-{client_number}", body)
    await apply_ring_config(core.db, await demo_ring_config(core))
    await core.rings.reload_rings()
    return _logins()


DEMO_BENEFIT_RINGS = {
    "basic_social_assistance": "Perustoimeentulotuki",
    "housing_allowance": "Yleinen asumistuki",
    "unemployment_security": "Työttömyysturva",
}


async def demo_ring_config(core: Core) -> dict[str, Any]:
    """Rings made from the demo directory: one per security benefit answered by its
    decision experts, one per county for its Kela liaisons, and named contacts per area."""
    async with core.db() as db:
        rows = (
            await db.execute(
                select(Person.email, Person.roles, Person.benefits, Unit.area, Organisation.kind)
                .join(Organisation, Person.organisation_id == Organisation.id)
                .outerjoin(Unit, Person.unit_id == Unit.id)
                .order_by(Person.last_name)
            )
        ).all()
    rings: list[dict[str, Any]] = [
        {
            "id": benefit,
            "name": name,
            "kind": "benefit",
            "benefit": benefit,
            "members": [
                r.email for r in rows if "decision_expert" in r.roles and benefit in r.benefits
            ],
        }
        for benefit, name in DEMO_BENEFIT_RINGS.items()
    ]
    contacts: list[dict[str, Any]] = []
    areas = sorted({r.area for r in rows if r.area and r.kind == "social_services"})
    for area in areas:
        liaisons = [
            r.email
            for r in rows
            if r.kind == "kela" and r.area == area and "municipal_liaison" in r.roles
        ]
        workers = [
            r.email
            for r in rows
            if r.kind == "social_services" and r.area == area and "social_worker" in r.roles
        ]
        rings.append(
            {
                "id": f"liaison-{area.lower()}",
                "name": f"Kuntayhteyshenkilöt: {area}",
                "kind": "liaison",
                "area": area,
                "members": liaisons,
            }
        )
        contacts.append({"area": area, "side": "kela", "people": liaisons})
        contacts.append({"area": area, "side": "social_services", "people": workers[:2]})
    return {"rings": rings, "named_contacts": contacts}
