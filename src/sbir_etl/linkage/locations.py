"""Location keys (state, city, ZIP) in one form on both sides, for corroborating name matches."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def clean_zip5(values: pa.Array) -> pa.Array:
    """First five digits of a ZIP/ZIP+4, restoring a leading zero a numeric read dropped ("3755")."""
    digits = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"[-\s].*$|\.0+$", "")
    ok = pc.match_substring_regex(digits, r"^\d{4,9}$")
    five = pc.utf8_slice_codeunits(
        pc.if_else(pc.equal(pc.utf8_length(digits), 4), pc.utf8_lpad(digits, 5, "0"), digits), 0, 5
    )
    return pc.if_else(ok, five, pa.scalar(None, pa.string()))


def clean_text_key(values: pa.Array) -> pa.Array:
    """Uppercase, trimmed text for state/city comparison; empty -> null."""
    out = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)


# Metropolitan areas that span a state line. A firm there registers in whichever state its office
# happens to be in ("LLVR SYSTEMS" is in Arlington VA in one FPDS record, Washington DC in the
# next; "TECHNOLOGY SERVICE CORPORATION" in Arlington VA and Silver Spring MD), so the same name
# within one such area is as well placed as within one state. Cities as `clean_text_key` writes them.
CROSS_STATE_METROS: dict[str, dict[str, str]] = {
    "washington-baltimore": {
        "DC": "WASHINGTON",
        "VA": """ALEXANDRIA, ANNANDALE, ARLINGTON, ASHBURN, BRAMBLETON, BURKE, CENTREVILLE, CHANTILLY,
            CLIFTON, DULLES, FAIRFAX, FAIRFAX STATION, FALLS CHURCH, FALLSCHURCH, FREDERICKSBURG,
            GAINESVILLE, GREAT FALLS, HAYMARKET, HERNDON, LEESBURG, LORTON, MANASSAS, MANASSAS PARK,
            MC LEAN, MCLEAN, MERRIFIELD, OAKTON, PURCELLVILLE, RESTON, ROSSLYN, SPRINGFIELD, STAFFORD,
            STERLING, TYSONS, TYSONS CORNER, VIENNA, WARRENTON, WOODBRIDGE""",
        "MD": """ANNAPOLIS, ANNAPOLIS JUNCTION, ARNOLD, BALTIMORE, BELTSVILLE, BETHESDA, BOWIE, CALVERTON,
            CHEVY CHASE, CLARKSBURG, COLLEGE PARK, COLUMBIA, CROFTON, DERWOOD, ELKRIDGE, ELLICOTT CITY,
            FORT MEADE, FREDERICK, FULTON, GAITHERSBURG, GERMANTOWN, GREENBELT, HANOVER, HYATTSVILLE,
            JESSUP, LANHAM, LARGO, LAUREL, LINTHICUM, LINTHICUM HEIGHTS, MILLERSVILLE, NATIONAL HARBOR,
            NORTH BETHESDA, OLNEY, POTOMAC, ROCKVILLE, SEVERN, SEVERNA PARK, SILVER SPRING,
            TAKOMA PARK, UPPER MARLBORO, WALDORF, WHEATON""",
        "WV": "HARPERS FERRY, MARTINSBURG, CHARLES TOWN, SHEPHERDSTOWN",
    },
    "new-york": {
        "NY": "NEW YORK, BROOKLYN, BRONX, QUEENS, STATEN ISLAND, LONG ISLAND CITY, WHITE PLAINS, YONKERS",
        "NJ": "NEWARK, JERSEY CITY, HOBOKEN, FORT LEE, HACKENSACK, PARAMUS, SECAUCUS, ENGLEWOOD CLIFFS",
        "CT": "STAMFORD, GREENWICH, NORWALK",
    },
    "philadelphia": {
        "PA": "PHILADELPHIA, KING OF PRUSSIA, CONSHOHOCKEN, MALVERN, WAYNE, MEDIA, CHESTER",
        "NJ": "CAMDEN, CHERRY HILL, MOUNT LAUREL, MOORESTOWN, MARLTON",
        "DE": "WILMINGTON, NEWARK, NEW CASTLE",
    },
    "kansas-city": {"MO": "KANSAS CITY, INDEPENDENCE, LEES SUMMIT", "KS": "KANSAS CITY, OVERLAND PARK, LENEXA, OLATHE"},
    "st-louis": {"MO": "ST LOUIS, SAINT LOUIS, ST. LOUIS, CHESTERFIELD", "IL": "BELLEVILLE, EAST ST LOUIS, O FALLON"},
    "cincinnati": {"OH": "CINCINNATI, MASON, WEST CHESTER", "KY": "COVINGTON, FLORENCE, NEWPORT, ERLANGER"},
    "portland": {"OR": "PORTLAND, BEAVERTON, HILLSBORO, TIGARD, LAKE OSWEGO", "WA": "VANCOUVER, CAMAS"},
    "chicago": {"IL": "CHICAGO, EVANSTON, SCHAUMBURG, NAPERVILLE", "IN": "GARY, HAMMOND, MERRILLVILLE"},
    "charlotte": {"NC": "CHARLOTTE, CONCORD, HUNTERSVILLE", "SC": "ROCK HILL, FORT MILL"},
    "boston-providence": {"MA": "BOSTON, CAMBRIDGE, ATTLEBORO", "RI": "PROVIDENCE, PAWTUCKET", "NH": "NASHUA, SALEM"},
    "memphis": {"TN": "MEMPHIS", "MS": "SOUTHAVEN, OLIVE BRANCH", "AR": "WEST MEMPHIS"},
    "omaha": {"NE": "OMAHA, BELLEVUE", "IA": "COUNCIL BLUFFS"},
}
_METRO_KEYS = [
    (f"{city.strip()}|{state}", metro)
    for metro, states in CROSS_STATE_METROS.items()
    for state, cities in states.items()
    for city in cities.split(",")
]
_METRO_KEY = pa.array([key for key, _ in _METRO_KEYS], type=pa.string())
_METRO_ID = np.array([sorted(CROSS_STATE_METROS).index(metro) for _, metro in _METRO_KEYS])


def metro_areas(cities: pa.Array, states: pa.Array) -> np.ndarray:
    """Per (cleaned city, state): the cross-state metropolitan area it lies in, -1 where none."""
    keys = pc.binary_join_element_wise(cities, states, "|")
    at = pc.fill_null(pc.index_in(keys, value_set=_METRO_KEY), -1).to_numpy(zero_copy_only=False)
    return np.where(at >= 0, _METRO_ID[np.maximum(at, 0)], -1)
