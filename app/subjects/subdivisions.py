"""ISO 3166-2 subdivisions where breach-notification law differs per subdivision.

``{country: {subdivision_code: (names and abbreviations...)}}``; the code itself and
``COUNTRY-CODE`` always match too.
"""

from __future__ import annotations

SUBDIVISION_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "US": {
        "AL": ("Alabama", "Ala."), "AK": ("Alaska",), "AZ": ("Arizona", "Ariz."),
        "AR": ("Arkansas", "Ark."), "CA": ("California", "Calif.", "Cal."), "CO": ("Colorado", "Colo."),
        "CT": ("Connecticut", "Conn."), "DE": ("Delaware", "Del."),
        "DC": ("District of Columbia", "Washington DC", "Washington D.C."),
        "FL": ("Florida", "Fla."), "GA": ("Georgia",), "HI": ("Hawaii",), "ID": ("Idaho",),
        "IL": ("Illinois", "Ill."), "IN": ("Indiana", "Ind."), "IA": ("Iowa",), "KS": ("Kansas", "Kan."),
        "KY": ("Kentucky", "Ky."), "LA": ("Louisiana",), "ME": ("Maine",), "MD": ("Maryland",),
        "MA": ("Massachusetts", "Mass."), "MI": ("Michigan", "Mich."), "MN": ("Minnesota", "Minn."),
        "MS": ("Mississippi", "Miss."), "MO": ("Missouri",), "MT": ("Montana", "Mont."),
        "NE": ("Nebraska", "Neb.", "Nebr."), "NV": ("Nevada", "Nev."), "NH": ("New Hampshire", "N.H."),
        "NJ": ("New Jersey", "N.J."), "NM": ("New Mexico", "N.M."), "NY": ("New York", "N.Y."),
        "NC": ("North Carolina", "N.C."), "ND": ("North Dakota", "N.D."), "OH": ("Ohio",),
        "OK": ("Oklahoma", "Okla."), "OR": ("Oregon", "Ore."), "PA": ("Pennsylvania", "Penn."),
        "RI": ("Rhode Island", "R.I."), "SC": ("South Carolina", "S.C."), "SD": ("South Dakota", "S.D."),
        "TN": ("Tennessee", "Tenn."), "TX": ("Texas", "Tex."), "UT": ("Utah",), "VT": ("Vermont",),
        "VA": ("Virginia",), "WA": ("Washington", "Wash."), "WV": ("West Virginia", "W.Va."),
        "WI": ("Wisconsin", "Wis."), "WY": ("Wyoming", "Wyo."),
        "AS": ("American Samoa",), "GU": ("Guam",), "MP": ("Northern Mariana Islands",),
        "PR": ("Puerto Rico",), "UM": ("United States Minor Outlying Islands",),
        "VI": ("Virgin Islands", "U.S. Virgin Islands", "US Virgin Islands"),
    },
    "CA": {
        "AB": ("Alberta", "Alta."), "BC": ("British Columbia", "Colombie-Britannique", "B.C."),
        "MB": ("Manitoba", "Man."), "NB": ("New Brunswick", "Nouveau-Brunswick", "N.B."),
        "NL": ("Newfoundland and Labrador", "Terre-Neuve-et-Labrador", "Newfoundland", "NF", "Nfld."),
        "NS": ("Nova Scotia", "Nouvelle-Écosse", "N.S."), "NT": ("Northwest Territories", "NWT", "N.W.T."),
        "NU": ("Nunavut",), "ON": ("Ontario", "Ont."), "PE": ("Prince Edward Island", "Île-du-Prince-Édouard",
        "PEI", "P.E.I."), "QC": ("Quebec", "Québec", "PQ", "Que."), "SK": ("Saskatchewan", "Sask."),
        "YT": ("Yukon", "Yukon Territory", "YK"),
    },
    "AU": {
        "ACT": ("Australian Capital Territory",), "NSW": ("New South Wales",),
        "NT": ("Northern Territory",), "QLD": ("Queensland",), "SA": ("South Australia",),
        "TAS": ("Tasmania",), "VIC": ("Victoria",), "WA": ("Western Australia",),
    },
}
