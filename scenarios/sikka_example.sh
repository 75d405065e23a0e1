#!/usr/bin/env bash
# A worked example: a planner in Sikka (Flores, NTT) starts an analysis offline with `reach init`.
#
#   REACH_DATA=../shared/data bash scenarios/sikka_example.sh [FOLDER]    # default /tmp/sikka
#
# The same steps as scenarios/sumba_init.sh, with what a Sikka office may have:
# - people: the Dukcapil 2025 total of Kabupaten Sikka (53.07: 346,614), spread over 500 m cells
#   by the settlement-cover grid, the total kept exactly;
# - zones: the 21 kecamatan of Sikka (53.07.*) out of the NTT kecamatan file;
# - roads: the 2012 OSM shapefile of Maumere (156 lines, classes in `highway`);
# - health: the Kemenkes 2019 puskesmas and hospitals of NTT, those of Sikka kept (a point-in-
#   polygon kabupaten code; the BPS code in `kode_faskes` is another number).
#
# What the 2012 roads leave out — read the results with this in mind:
# - they cover only Maumere town and its edges (lon 122.13–122.34, lat -8.70 to -8.54), about a
#   tenth of the kabupaten (lon 121.68–122.69): the Trans-Flores road west to Ende and east to
#   Larantuka, every other kecamatan road, and the island of Palue have no road here, so outside
#   Maumere everyone walks (at 4 km/h over the land) and coverage there is understated;
# - they are OSM of about 2012: roads built or paved since are missing, and most lines have no
#   surface, so every road runs at its class's paved speed;
# - no ferries are in the file: the people of the small islands of Maumere bay (in Alok and
#   Alok Timur, about 3,000) are counted unreachable ("water, no ferry"); Palue reaches its own
#   puskesmas on the island.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${REACH_DATA:-$here/../../shared/data}"
out="${1:-/tmp/sikka}"
export REACH_DATA="$data"
reach init "$out" --overwrite \
  --name "Sikka (Flores): puskesmas dengan sepeda motor" \
  --boundaries "$data/indonesia_ntt_admin/ntt_kecamatan_adm3.geojson" \
  --id-column kode --name-column nama --where 'kode=53.07.*' \
  --counts "$data/indonesia_sumba/ntt/population_kabupaten_ntt_2025.csv" \
  --count-zone-column kode --count-column total_dukcapil_2025 \
  --count-zones "$data/indonesia_ntt_admin/ntt_kabupaten_adm2.geojson" --count-zones-id kode \
  --count-zones-where kode=53.07 \
  --weights "$data/indonesia_sumba/ntt/settlement_cover_grid_ntt_0p02deg.gpkg" \
  --weight-column pct_cover \
  --roads "$data/indonesia_ntt_admin/maumere_flores_osm_2012/roads_Maumere.shp" \
  --road-class-column highway \
  --health "$data/indonesia_sumba/ntt/faskes_kemenkes_bppsdmk_2019_ntt.gpkg" --tier-column tier \
  --facilities-where kab_kemendagri=53.07 \
  --report id
reach run "$out/scenario.toml"
