"""Templates and vocabulary pools of the synthetic posts, and the author profiles they draw on.

Every post is assembled from parts kept here: a template chosen by topic (the same content is
written in parallel in English, Spanish, French and transliterated Arabic, so a post can be
re-rendered in another language with its meaning kept), fillers for the template's slots
(places, times, foods, teams, causes, officials, issues, friends' names, places of worship,
holidays), and style markers (openers, code-switched words, religious phrases, dialect markers,
hashtags).

Threat templates are deliberately generic: they state an intent to hurt people at an everyday
place and name no group, ideology, organisation or method. Nothing here is real extremist
content; the point is to give a text classifier a signal to learn and confusable words
("destroyed them", "this commute is killing me", "stop the bombing") to get wrong.
"""

from __future__ import annotations

#: Post topics; the last is a genuine threat of violence (generic, very rare).
TOPICS = (
    "daily_life", "sport", "religion", "politics", "solidarity_palestine", "solidarity_other",
    "government_criticism", "threat",
)
#: How often an ordinary author posts on each topic (before the author's own weights). Only
#: authors who speak for Palestinian rights (the population's ``palestine_solidarity``, whose
#: rate by origin and protest participation is an assumption of the profile) post on
#: ``solidarity_palestine``; for everyone else its weight is 0.
TOPIC_BASE_WEIGHTS = {
    "daily_life": 0.40, "sport": 0.20, "religion": 0.08, "politics": 0.10,
    "solidarity_palestine": 0.15, "solidarity_other": 0.08, "government_criticism": 0.10,
}
#: The topic only people who speak for Palestinian rights post on.
SOLIDARITY_TOPIC = "solidarity_palestine"
#: Topics whose share rises for people who take part in protests.
POLITICAL_TOPICS = ("politics", "solidarity_palestine", "solidarity_other",
                    "government_criticism")

#: Languages a post's core text can be written in ("ar" is transliterated Arabic, Arabizi).
LANGUAGES = ("en", "es", "fr", "ar")
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French",
                  "ar": "Arabic (transliterated)"}
#: Writing styles: the core language and whether words of another language are mixed in.
STYLES = ("english", "english_arabic", "english_spanish", "spanish", "french", "arabizi")
STYLE_LANGUAGE = {"english": "en", "english_arabic": "en", "english_spanish": "en",
                  "spanish": "es", "french": "fr", "arabizi": "ar"}
CODE_SWITCHED_STYLES = ("english_arabic", "english_spanish")
ARABIC_STYLES = ("english_arabic", "arabizi")

SENTIMENTS = ("negative", "neutral", "positive")

#: Per topic, five templates: (sentiment, English, Spanish, French, transliterated Arabic).
#: Slots in braces are filled from the pools below; the versions of one template say the same.
TEMPLATES: dict[str, list[tuple[str, str, str, str, str]]] = {
    "daily_life": [
        ("positive",
         "just had the best {food} at that new place near {place} with {friend}",
         "acabo de comer el mejor {food} en el sitio nuevo cerca de {place} con {friend}",
         "je viens de manger le meilleur {food} au nouveau resto près de {place} avec {friend}",
         "akalt a7la {food} fi el ma6'3am el jdeed 2orb {place} ma3 {friend}"),
        ("neutral",
         "anyone know if {place} is open {time}? need to run errands",
         "alguien sabe si {place} abre {time}? tengo que hacer mandados",
         "quelqu'un sait si {place} est ouvert {time} ? j'ai des courses à faire",
         "7ada b3raf iza {place} fate7 {time}? lazem a5alles shaghlat"),
        ("negative",
         "stuck in traffic again on the way to {place}, this commute is killing me",
         "otra vez atascado en el tráfico camino a {place}, este trayecto me está matando",
         "encore coincé dans les bouchons vers {place}, ce trajet me tue",
         "3al2an bel zam2a kaman mara 3a tari2 {place}, hal mishwar 3am yiktolni"),
        ("positive",
         "{friend} finally came to visit, cooking {food} for everyone {time}",
         "{friend} por fin vino de visita, voy a cocinar {food} para todos {time}",
         "{friend} est enfin venu nous voir, je cuisine {food} pour tout le monde {time}",
         "{friend} akheeran ija yzorna, 3am ab6bo5 {food} lal kel {time}"),
        ("neutral",
         "moving apartments {time}, if you have boxes near {place} let me know",
         "me mudo de apartamento {time}, si tienen cajas cerca de {place} avísenme",
         "je déménage {time}, si vous avez des cartons près de {place} dites-moi",
         "3am enqel el bait {time}, iza 3andkom kratin 2orb {place} 5abbrooni"),
    ],
    "sport": [
        ("positive",
         "{team} destroyed them tonight, what a game",
         "{team} los destrozó esta noche, qué partidazo",
         "{team} les a détruits ce soir, quel match",
         "{team} dammarohom el leila, shu hal match"),
        ("negative",
         "can't believe {team} lost again, the coach has to go",
         "no puedo creer que {team} perdió otra vez, el entrenador se tiene que ir",
         "je n'arrive pas à croire que {team} a encore perdu, l'entraîneur doit partir",
         "mish msade2 inno {team} 5esro kaman mara, lazem el mdarreb yroo7"),
        ("neutral",
         "watching {team} with {friend} {time} at {place}",
         "viendo a {team} con {friend} {time} en {place}",
         "je regarde {team} avec {friend} {time} à {place}",
         "bnetfarraj 3ala {team} ma3 {friend} {time} fi {place}"),
        ("positive",
         "that last-minute shot by {team} was a killer, absolute scenes",
         "ese tiro de último minuto de {team} fue mortal, increíble",
         "ce tir de dernière minute de {team} était mortel, incroyable",
         "hadaf {team} bel da2i2a el a5eera kan 5arafi, wa7sh"),
        ("neutral",
         "pickup football at {place} {time}, we need two more players",
         "fútbol en {place} {time}, nos faltan dos jugadores",
         "foot à {place} {time}, il nous manque deux joueurs",
         "fi match kora fi {place} {time}, na2esna la3been"),
    ],
    "religion": [
        ("positive",
         "beautiful gathering at the {worship} {time}, grateful for this community",
         "hermosa reunión en {worship} {time}, agradecido con esta comunidad",
         "belle rencontre à {worship} {time}, reconnaissant pour cette communauté",
         "lamma 7elwe bel {worship} {time}, mamnoon la hal mojtama3"),
        ("positive",
         "happy {holiday} to everyone celebrating, peace to your families",
         "feliz {holiday} a todos los que celebran, paz para sus familias",
         "joyeux {holiday} à tous ceux qui le fêtent, paix à vos familles",
         "{holiday} mubarak lal kel, el salam la 3ayelatkom"),
        ("neutral",
         "volunteering at the {worship} food drive {time}, bring canned goods",
         "voluntariado en la colecta de {worship} {time}, traigan latas",
         "bénévolat à la collecte de {worship} {time}, apportez des conserves",
         "tatawo3 fi 7amlet el akl bel {worship} {time}, jeebo m3allabat"),
        ("neutral",
         "fasting and praying for {friend}'s family {time}",
         "ayunando y rezando por la familia de {friend} {time}",
         "je jeûne et je prie pour la famille de {friend} {time}",
         "sayem w bsalli la 3ayelet {friend} {time}"),
        ("negative",
         "someone vandalised the {worship} near {place} again, this hate has to stop",
         "alguien vandalizó otra vez {worship} cerca de {place}, este odio tiene que parar",
         "quelqu'un a encore vandalisé {worship} près de {place}, cette haine doit cesser",
         "7ada 5arrab el {worship} 2orb {place} kaman mara, hal kurh lazem yo2af"),
    ],
    "politics": [
        ("negative",
         "{official} keeps lying about {issue}, we need to fight back at the ballot box",
         "{official} sigue mintiendo sobre {issue}, hay que luchar en las urnas",
         "{official} continue de mentir sur {issue}, il faut se battre dans les urnes",
         "{official} dayman byekzob 3an {issue}, lazem nwa2ef bwejjo bel ente5abat"),
        ("neutral",
         "town hall on {issue} at {place} {time}, come ask questions",
         "reunión pública sobre {issue} en {place} {time}, vengan a preguntar",
         "réunion publique sur {issue} à {place} {time}, venez poser vos questions",
         "fi ejtima3 3an {issue} fi {place} {time}, ta3alo is2alo"),
        ("positive",
         "proud to vote today, {issue} is on the ballot",
         "orgulloso de votar hoy, {issue} está en la boleta",
         "fier de voter aujourd'hui, {issue} est sur le bulletin",
         "fa5oor enni 3am sawwet el yom, {issue} 3al wara2a"),
        ("neutral",
         "reading about the new plan from {official} on {issue}, thoughts?",
         "leyendo sobre el nuevo plan de {official} sobre {issue}, ¿opiniones?",
         "je lis le nouveau plan de {official} sur {issue}, vos avis ?",
         "3am e2ra 3an 5ettet {official} el jdeede la {issue}, shu ra2ykon?"),
        ("negative",
         "this campaign ad about {issue} is an attack on working families",
         "este anuncio sobre {issue} es un ataque a las familias trabajadoras",
         "cette pub sur {issue} est une attaque contre les familles qui travaillent",
         "hal e3lan 3an {issue} hojoom 3ala el 3ayelat el 3amle"),
    ],
    "solidarity_palestine": [
        ("negative",
         "stop the bombing of Gaza, ceasefire now",
         "paren el bombardeo de Gaza, alto el fuego ya",
         "arrêtez les bombardements sur Gaza, cessez-le-feu maintenant",
         "w2fo el 2asf 3ala Ghazze, w2f itlaq el nar halla2"),
        ("neutral",
         "march for Palestine at {place} {time}, bring flags and water",
         "marcha por Palestina en {place} {time}, traigan banderas y agua",
         "marche pour la Palestine à {place} {time}, apportez drapeaux et eau",
         "masira la Falasteen fi {place} {time}, jeebo a3lam w mayy"),
        ("negative",
         "praying for the martyrs of Gaza, the world is watching children die",
         "rezando por los mártires de Gaza, el mundo mira morir a los niños",
         "je prie pour les martyrs de Gaza, le monde regarde des enfants mourir",
         "bnesalli lal shohada fi Ghazze, el 3alam 3am ytfarraj 3al wlad 3am ymooto"),
        ("positive",
         "raised money with {friend} for medical aid to Gaza, thank you all",
         "recaudamos dinero con {friend} para ayuda médica a Gaza, gracias a todos",
         "on a collecté des fonds avec {friend} pour l'aide médicale à Gaza, merci à tous",
         "jam3na masari ma3 {friend} la mosa3adat tebbiye la Ghazze, shukran lal kel"),
        ("negative",
         "end the occupation, Palestinians deserve to live in peace and dignity",
         "fin a la ocupación, los palestinos merecen vivir en paz y dignidad",
         "fin de l'occupation, les Palestiniens méritent de vivre en paix et dans la dignité",
         "lazem yentehi el e7tilal, el falasteeniyeen bysta7a2o y3eesho bsalam w karame"),
    ],
    "solidarity_other": [
        ("neutral",
         "rally for {cause} at {place} {time}, everyone welcome",
         "manifestación por {cause} en {place} {time}, todos bienvenidos",
         "rassemblement pour {cause} à {place} {time}, tout le monde est bienvenu",
         "ta7ashod la {cause} fi {place} {time}, el kel mr7ab fihon"),
        ("positive",
         "so proud of everyone who showed up for {cause} with {friend} and me",
         "orgulloso de todos los que vinieron por {cause} con {friend} y conmigo",
         "fier de tous ceux qui sont venus pour {cause} avec {friend} et moi",
         "fa5oor bkel yalli ijo la {cause} ma3i w ma3 {friend}"),
        ("negative",
         "the silence on {cause} is shameful, speak up",
         "el silencio sobre {cause} es vergonzoso, alcen la voz",
         "le silence sur {cause} est honteux, exprimez-vous",
         "el sukoot 3an {cause} 3eib, 7ko"),
        ("neutral",
         "sharing a fundraiser for {cause}, every dollar helps",
         "comparto una colecta para {cause}, cada dólar ayuda",
         "je partage une cagnotte pour {cause}, chaque euro compte",
         "3am sharek 7amlet tabarro3at la {cause}, kel dollar bisa3ed"),
        ("negative",
         "we will keep fighting for {cause} until things change",
         "seguiremos luchando por {cause} hasta que las cosas cambien",
         "on continuera à se battre pour {cause} jusqu'à ce que ça change",
         "rah nkammel nnadel la {cause} la tetghayyar el ashya2"),
    ],
    "government_criticism": [
        ("negative",
         "{official} failed us on {issue}, resign",
         "{official} nos falló con {issue}, renuncie",
         "{official} nous a laissés tomber sur {issue}, démission",
         "{official} 5azalna bi {issue}, esta2eel"),
        ("negative",
         "the government back home jails journalists and calls it security",
         "el gobierno de mi país encarcela periodistas y lo llama seguridad",
         "le gouvernement de mon pays emprisonne des journalistes et appelle ça la sécurité",
         "el 7ukoome bi baladi btes2ojn el sa7afiyeen w bt2ool amn"),
        ("negative",
         "the policy of {official} on {issue} is a disaster for families like mine",
         "la política de {official} sobre {issue} es un desastre para familias como la mía",
         "la politique de {official} sur {issue} est un désastre pour des familles comme la "
         "mienne",
         "siyaset {official} bi {issue} karethe la 3ayelat metel 3ayelti"),
        ("neutral",
         "filed a complaint about {issue} with my representative {time}",
         "presenté una queja sobre {issue} con mi representante {time}",
         "j'ai déposé une plainte sur {issue} auprès de mon député {time}",
         "2addamt shakwa 3an {issue} la mumassili {time}"),
        ("negative",
         "corruption at every level, {official} should be investigated",
         "corrupción en todos los niveles, {official} debería ser investigado",
         "corruption à tous les niveaux, {official} devrait faire l'objet d'une enquête",
         "fasad bi kel el mostawayat, lazem ye7a22o ma3 {official}"),
    ],
    # Generic threats: an intent to hurt people at an everyday place, nothing more specific.
    "threat": [
        ("negative",
         "I am going to hurt people at {place} {time}, they will all pay",
         "voy a lastimar a la gente en {place} {time}, todos van a pagar",
         "je vais blesser des gens à {place} {time}, ils vont tous payer",
         "rah 2a2zi el nas fi {place} {time}, kellon rah yedfa3o"),
        ("negative",
         "bringing a weapon to {place} {time}, nobody there is safe",
         "voy a llevar un arma a {place} {time}, nadie ahí está a salvo",
         "j'apporte une arme à {place} {time}, personne là-bas n'est en sécurité",
         "jayeb sla7 3a {place} {time}, ma 7ada hnik b amen"),
        ("negative",
         "{time} I will make everyone at {place} regret it, violently",
         "{time} voy a hacer que todos en {place} se arrepientan, con violencia",
         "{time} je vais faire regretter tout le monde à {place}, violemment",
         "{time} rah 5alli kel wa7ad fi {place} yendam, bel 3onf"),
        ("negative",
         "planning to attack {place} {time}, watch the news",
         "planeo atacar {place} {time}, miren las noticias",
         "je prévois d'attaquer {place} {time}, regardez les infos",
         "na5ter ahjom 3ala {place} {time}, shoofo el a5bar"),
        ("negative",
         "they deserve to be hurt, I will find them at {place} {time}",
         "merecen que los lastimen, los voy a encontrar en {place} {time}",
         "ils méritent d'être blessés, je vais les trouver à {place} {time}",
         "byesta7a2o yet2azzo, rah la2ihon fi {place} {time}"),
    ],
}

#: Slot fillers per language; the lists of one slot are parallel (same meaning at each index).
SLOT_POOLS: dict[str, dict[str, list[str]]] = {
    "place": {
        "en": ["the mall", "the station", "campus", "the office", "downtown", "the park",
               "the library", "the stadium", "the market", "the clinic"],
        "es": ["el centro comercial", "la estación", "el campus", "la oficina", "el centro",
               "el parque", "la biblioteca", "el estadio", "el mercado", "la clínica"],
        "fr": ["le centre commercial", "la gare", "le campus", "le bureau", "le centre-ville",
               "le parc", "la bibliothèque", "le stade", "le marché", "la clinique"],
        "ar": ["el mall", "el m7atta", "el jam3a", "el maktab", "wes6 el balad", "el 7adi2a",
               "el maktabe", "el mal3ab", "el souk", "el 3iyade"],
    },
    "time": {
        "en": ["tonight", "tomorrow", "this weekend", "on Friday", "after work", "next week",
               "this morning"],
        "es": ["esta noche", "mañana", "este fin de semana", "el viernes", "después del trabajo",
               "la próxima semana", "esta mañana"],
        "fr": ["ce soir", "demain", "ce week-end", "vendredi", "après le travail",
               "la semaine prochaine", "ce matin"],
        "ar": ["el leila", "bukra", "hal weekend", "yom el jom3a", "ba3d el shoghl",
               "el jem3a el jeye", "el sob7"],
    },
    "food": {
        "en": ["tacos", "shawarma", "jollof rice", "biryani", "pho", "pupusas", "falafel",
               "dumplings", "arepas", "pizza"],
        "es": ["tacos", "shawarma", "arroz jollof", "biryani", "pho", "pupusas", "falafel",
               "dumplings", "arepas", "pizza"],
        "fr": ["tacos", "shawarma", "riz jollof", "biryani", "pho", "pupusas", "falafels",
               "raviolis", "arepas", "pizza"],
        "ar": ["tacos", "shawarma", "roz jollof", "biryani", "pho", "pupusas", "falafel",
               "dumplings", "arepas", "pizza"],
    },
    "team": {
        language: ["Real Madrid", "Barça", "Al Ahly", "Arsenal", "Lakers", "Club América",
                   "Flamengo", "PSG", "Raja Casablanca", "Boca Juniors", "Liverpool", "Wydad"]
        for language in LANGUAGES
    },
    "cause": {
        "en": ["climate justice", "refugees", "Sudan", "Ukraine", "workers' rights",
               "housing for all", "Congo", "Haiti"],
        "es": ["la justicia climática", "los refugiados", "Sudán", "Ucrania",
               "los derechos laborales", "vivienda para todos", "el Congo", "Haití"],
        "fr": ["la justice climatique", "les réfugiés", "le Soudan", "l'Ukraine",
               "les droits des travailleurs", "le logement pour tous", "le Congo", "Haïti"],
        "ar": ["el 3adale el mana5iye", "el laji2een", "el Sudan", "Okrania",
               "7o2oo2 el 3ommal", "sakan lal kel", "el Congo", "Haiti"],
    },
    "official": {
        "en": ["the governor", "the mayor", "the president", "the minister", "congress",
               "the city council"],
        "es": ["el gobernador", "el alcalde", "el presidente", "el ministro", "el congreso",
               "el concejo municipal"],
        "fr": ["le gouverneur", "le maire", "le président", "le ministre", "le congrès",
               "le conseil municipal"],
        "ar": ["el 7akem", "ra2ees el baladiye", "el ra2ees", "el wazeer", "el kongres",
               "majlis el madine"],
    },
    "issue": {
        "en": ["rent", "inflation", "the new visa rules", "police violence", "healthcare",
               "student loans", "the minimum wage", "public transit"],
        "es": ["el alquiler", "la inflación", "las nuevas reglas de visas",
               "la violencia policial", "la salud", "los préstamos estudiantiles",
               "el salario mínimo", "el transporte público"],
        "fr": ["les loyers", "l'inflation", "les nouvelles règles de visa",
               "les violences policières", "la santé", "les prêts étudiants",
               "le salaire minimum", "les transports publics"],
        "ar": ["el ajar", "el tada5om", "qawanin el visa el jdeede", "3onf el shorta",
               "el ri3aye el sa77iye", "qorood el tullab", "el 7add el adna lal ujoor",
               "el nagl el 3am"],
    },
}

#: Religion of an author, as it shows in posts (places of worship, holidays, phrases).
RELIGIONS = ("none", "muslim", "christian")
#: Slots whose fillers depend on the author's religion: religion -> language -> fillers.
RELIGION_POOLS: dict[str, dict[str, dict[str, list[str]]]] = {
    "worship": {
        "none": {"en": ["community centre", "meditation hall", "temple"],
                 "es": ["el centro comunitario", "la sala de meditación", "el templo"],
                 "fr": ["le centre communautaire", "la salle de méditation", "le temple"],
                 "ar": ["markaz el 7ay", "qa3et el ta2ammol", "el ma3bad"]},
        "muslim": {"en": ["mosque", "masjid", "Islamic centre"],
                   "es": ["la mezquita", "el masjid", "el centro islámico"],
                   "fr": ["la mosquée", "le masjid", "le centre islamique"],
                   "ar": ["jame3", "masjid", "markaz islami"]},
        "christian": {"en": ["church", "parish", "chapel"],
                      "es": ["la iglesia", "la parroquia", "la capilla"],
                      "fr": ["l'église", "la paroisse", "la chapelle"],
                      "ar": ["kneeseh", "abrashiye", "kneeset el 7ay"]},
    },
    "holiday": {
        "none": {"en": ["Diwali", "Lunar New Year", "Nowruz"],
                 "es": ["Diwali", "Año Nuevo Lunar", "Nowruz"],
                 "fr": ["Diwali", "Nouvel An lunaire", "Nowruz"],
                 "ar": ["Diwali", "ras el sane el qamariye", "Nowruz"]},
        "muslim": {"en": ["Eid", "Ramadan", "Eid al-Adha"],
                   "es": ["Eid", "Ramadán", "Eid al-Adha"],
                   "fr": ["Aïd", "Ramadan", "Aïd el-Kebir"],
                   "ar": ["3eid", "Ramadan", "3eid el ad7a"]},
        "christian": {"en": ["Easter", "Christmas", "Pentecost"],
                      "es": ["Pascua", "Navidad", "Pentecostés"],
                      "fr": ["Pâques", "Noël", "Pentecôte"],
                      "ar": ["3eid el fis7", "3eid el milad", "3eid el 3ansara"]},
    },
}

#: Families of first names, for friends mentioned in posts.
NAME_FAMILIES: dict[str, list[str]] = {
    "anglo": ["John", "Emily", "Mike", "Sarah", "Chris", "Jess", "David", "Kate"],
    "arabic": ["Ahmed", "Mohammed", "Fatima", "Yousef", "Layla", "Omar", "Mariam", "Khaled"],
    "hispanic": ["Carlos", "María", "José", "Lucía", "Miguel", "Sofía", "Javier", "Camila"],
    "south_asian": ["Priya", "Rahul", "Aisha", "Arjun", "Sana", "Vikram", "Imran", "Neha"],
    "east_asian": ["Wei", "Min-jun", "Yuki", "Linh", "Hao", "Ji-woo", "Mei", "Kenji"],
    "african": ["Chinedu", "Amara", "Kwame", "Ngozi", "Tunde", "Abena", "Tesfaye", "Femi"],
    "french": ["Pierre", "Camille", "Jean", "Chloé", "Lucas", "Léa", "Marc", "Manon"],
    "european": ["Anna", "Dmitri", "Olga", "Hans", "Katarina", "Ivan", "Elena", "Stefan"],
    "persian_turkish": ["Reza", "Elif", "Ali", "Zeynep", "Dariush", "Emre", "Shirin", "Murat"],
}
#: The population's name origins, by name family.
NAME_ORIGIN_FAMILY = {
    "Anglo": "anglo", "Arabic": "arabic", "Hispanic": "hispanic", "Lusophone": "hispanic",
    "South Asian": "south_asian", "Chinese": "east_asian", "Korean": "east_asian",
    "Japanese": "east_asian", "Vietnamese": "east_asian", "Filipino": "hispanic",
    "West African": "african", "Ethiopian": "african", "East African": "african",
    "Francophone": "french", "European": "european", "Slavic": "european",
    "Persian": "persian_turkish", "Turkish": "persian_turkish",
}

#: Share of authors who are Muslim, and Christian, by first language (illustrative
#: assumptions for the mimic; the population itself carries no religion). Unlisted: 5%, 30%.
RELIGION_BY_LANGUAGE: dict[str, tuple[float, float]] = {
    "Arabic": (0.85, 0.10), "Urdu": (0.95, 0.02), "Punjabi": (0.80, 0.05),
    "Bengali": (0.85, 0.02), "Persian": (0.55, 0.03), "Turkish": (0.75, 0.02),
    "Kurdish": (0.85, 0.02), "Azerbaijani": (0.70, 0.02), "Hausa": (0.85, 0.10),
    "Oromo": (0.40, 0.50), "Amharic": (0.30, 0.65), "Yoruba": (0.40, 0.55),
    "Igbo": (0.02, 0.90), "Twi": (0.15, 0.75), "Spanish": (0.01, 0.80),
    "Portuguese": (0.01, 0.80), "Tagalog": (0.05, 0.85), "Haitian Creole": (0.01, 0.85),
    "French": (0.08, 0.55), "English": (0.03, 0.60), "Russian": (0.05, 0.55),
    "Ukrainian": (0.02, 0.70), "German": (0.05, 0.55), "Hindi": (0.10, 0.03),
    "Gujarati": (0.05, 0.02), "Telugu": (0.05, 0.05), "Tamil": (0.05, 0.08),
    "Mandarin": (0.02, 0.08), "Cantonese": (0.02, 0.10), "Korean": (0.01, 0.35),
    "Japanese": (0.01, 0.02), "Vietnamese": (0.01, 0.10), "Nahuatl": (0.0, 0.85),
    "K'iche'": (0.0, 0.85), "Mam": (0.0, 0.85), "Quechua": (0.0, 0.85),
    "Kichwa": (0.0, 0.85), "Garifuna": (0.0, 0.85),
}
DEFAULT_RELIGION = (0.05, 0.30)

#: Writing styles by first language: probabilities over STYLES (English speakers write
#: English; Arabic speakers mix; Spanish speakers write Spanish or mix it with English).
#: Unlisted languages write English, the lingua franca of this simplified world.
STYLE_BY_LANGUAGE: dict[str, dict[str, float]] = {
    "Arabic": {"english": 0.35, "english_arabic": 0.35, "arabizi": 0.30},
    "Spanish": {"english": 0.25, "english_spanish": 0.35, "spanish": 0.40},
    "Nahuatl": {"english": 0.10, "english_spanish": 0.20, "spanish": 0.70},
    "K'iche'": {"english": 0.10, "english_spanish": 0.20, "spanish": 0.70},
    "Mam": {"english": 0.10, "english_spanish": 0.20, "spanish": 0.70},
    "Quechua": {"english": 0.10, "english_spanish": 0.20, "spanish": 0.70},
    "Kichwa": {"english": 0.10, "english_spanish": 0.20, "spanish": 0.70},
    "Garifuna": {"english": 0.30, "english_spanish": 0.30, "spanish": 0.40},
    "French": {"english": 0.50, "french": 0.50},
    "Haitian Creole": {"english": 0.50, "french": 0.50},
    "Kurdish": {"english": 0.80, "english_arabic": 0.20},
    "Urdu": {"english": 0.85, "english_arabic": 0.15},
}
#: Those who do not speak English well write less English.
NON_ENGLISH_SPEAKER_STYLE: dict[str, dict[str, float]] = {
    "Arabic": {"english_arabic": 0.30, "arabizi": 0.70},
    "Spanish": {"english_spanish": 0.20, "spanish": 0.80},
    "French": {"english": 0.10, "french": 0.90},
    "Haitian Creole": {"english": 0.20, "french": 0.80},
}

#: A topic's share is multiplied by these for authors whose first language is listed
#: (interest in the news of the region: an assumption of the mimic, not a measured fact).
#: Who speaks for Palestinian rights is the population's ``palestine_solidarity``, not a
#: language's interest.
TOPIC_INTEREST: dict[str, dict[str, float]] = {
    "Arabic": {"religion": 1.3}, "Persian": {"government_criticism": 1.5},
    "Kurdish": {"government_criticism": 1.5}, "Russian": {"government_criticism": 1.3},
    "Ukrainian": {"solidarity_other": 1.5}, "Haitian Creole": {"solidarity_other": 1.5},
}
#: Protest participants post this many times more on political topics.
PROTEST_TOPIC_MULTIPLIER = 2.5

#: First words of a post, by style ("" = none).
OPENERS: dict[str, list[str]] = {
    "english": ["", "", "", "ok so", "honestly", "lol", "update:", "not gonna lie"],
    "english_arabic": ["wallah", "yalla", "habibi", "ya jamaa", "", "khalas", "ya3ni",
                       "ahlan"],
    "english_spanish": ["oye", "mira", "ay", "bueno", "", "pues", "wey", "órale"],
    "spanish": ["", "", "bueno", "oye", "la verdad", "jaja", "ojo:", "mira"],
    "french": ["", "", "bon", "franchement", "mdr", "bref", "alors", "du coup"],
    "arabizi": ["", "", "wallah", "yalla", "ya shabab", "ya3ni", "asdi2a2i", "khalas"],
}
#: Last words of a post, by style: where code-switching shows most.
TAILS: dict[str, list[str]] = {
    "english": ["", "", "", "lol", "!!", "fr", "tbh", "smh"],
    "english_arabic": ["inshallah", "wallah", "ya3ni", "habibi", "yalla", "khalas", "3anjad",
                       "sah"],
    "english_spanish": ["mano", "qué bueno", "vamos", "ay dios", "pues", "chido", "dale",
                        "qué onda"],
    "spanish": ["", "", "jaja", "!!", "ya", "uff", "vamos", "ni modo"],
    "french": ["", "", "mdr", "!!", "bref", "quoi", "grave", "tkt"],
    "arabizi": ["", "", "inshallah", "wallah", "ya3ni", "yalla", "3anjad", "sah"],
}
#: Religious phrases by religion and language.
RELIGIOUS_PHRASES: dict[str, dict[str, list[str]]] = {
    "muslim": {language: ["alhamdulillah", "mashallah", "inshallah", "bismillah",
                          "subhanallah", "jazakallah khair"] for language in LANGUAGES},
    "christian": {"en": ["God bless", "amen", "thank God", "blessed", "praise the Lord",
                         "God is good"],
                  "es": ["gracias a Dios", "bendiciones", "amén", "Dios te bendiga",
                         "gloria a Dios", "Dios es bueno"],
                  "fr": ["Dieu merci", "amen", "que Dieu vous bénisse", "béni",
                         "gloire à Dieu", "Dieu est bon"],
                  "ar": ["alla3 ykon ma3kon", "amen", "ashkor alla", "mbarak", "majd lal rab",
                         "alla mni7"]},
}
#: Dialect markers by dialect family.
DIALECT_MARKERS: dict[str, list[str]] = {
    "levantine": ["ya zalameh", "shu", "khalas", "ktir"],
    "egyptian": ["ezzayak", "mesh keda", "ya basha", "awi"],
    "gulf": ["wayed", "zain", "shlonak", "ya 7aleelah"],
    "mexican": ["wey", "no manches", "órale", "chido"],
    "caribbean": ["mano", "diache", "qué lo que", "vaina"],
    "central_american": ["cipote", "chivo", "puchica", "vos sabés"],
    "andean": ["pues", "chévere", "ya pe", "causa"],
    "venezuelan": ["chamo", "chévere", "pana", "arrecho"],
    "colombian": ["parce", "bacano", "qué chimba", "pues"],
    "west_african_english": ["abeg", "wahala", "omo", "chale"],
    "jamaican": ["wah gwaan", "bredda", "irie", "yuh know"],
    "british": ["innit", "mate", "proper", "cheers"],
    "south_asian_english": ["yaar", "na", "only", "arre"],
    "filipino": ["po", "grabe", "sana all", "charot"],
    "haitian": ["sak pase", "map boule", "wi", "anpil"],
}
#: The population's dialects, by the dialect family of their markers (others: none).
DIALECT_FAMILY = {
    "Arabic (Levantine)": "levantine", "Arabic (Egyptian)": "egyptian",
    "Arabic (Gulf)": "gulf", "Arabic (Sudanese)": "egyptian",
    "Spanish (Mexican)": "mexican", "Spanish (Caribbean)": "caribbean",
    "Spanish (Central American)": "central_american", "Spanish (Andean)": "andean",
    "Spanish (Venezuelan)": "venezuelan", "Spanish (Colombian)": "colombian",
    "English (Nigerian)": "west_african_english", "English (Ghanaian)": "west_african_english",
    "English (Jamaican)": "jamaican", "English (British)": "british",
    "English (Indian)": "south_asian_english", "English (Pakistani)": "south_asian_english",
    "English (Filipino)": "filipino", "Haitian Creole (Haitian)": "haitian",
}
ARABIC_DIALECT_FAMILIES = ("levantine", "egyptian", "gulf")

#: Hashtags that end some posts, by topic ("" = none).
HASHTAGS: dict[str, list[str]] = {
    "daily_life": ["", "", "", "", "#mood", "#weekend"],
    "sport": ["", "", "", "#matchday", "#football", "#gameday"],
    "religion": ["", "", "", "", "#community", "#blessed"],
    "politics": ["", "", "", "#vote", "#democracy", "#townhall"],
    "solidarity_palestine": ["", "#FreePalestine", "#Ceasefire", "#Gaza", "#StandWithGaza",
                             "#Palestine"],
    "solidarity_other": ["", "", "#solidarity", "#RefugeesWelcome", "#ClimateJustice",
                         "#mutualaid"],
    "government_criticism": ["", "", "", "#accountability", "#resign", "#corruption"],
    "threat": ["", "", "", "", "", ""],
}

#: Probability that a post carries a religious phrase (authors with a religion), and a
#: dialect marker (authors whose dialect has markers).
RELIGIOUS_PHRASE_RATE = 0.15
DIALECT_MARKER_RATE = 0.20
#: Probability that a post ends with a hashtag drawn from its topic's list.
HASHTAG_RATE = 0.5
