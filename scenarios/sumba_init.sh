#!/usr/bin/env bash
# How scenarios/sumba.toml was made: `reach init` from the files a district office holds, offline.
#
#   REACH_DATA=../shared/data bash scenarios/sumba_init.sh      # (re)writes scenarios/sumba.toml
#   reach run scenarios/sumba.toml                               # → maps/sumba/
#
# Inputs (read where they lie, under ${REACH_DATA}; nothing is copied):
# - people: Dukcapil 2025 totals of the four kabupaten of Sumba (53.11 Sumba Timur, 53.12 Sumba
#   Barat, 53.17 Sumba Tengah, 53.18 Sumba Barat Daya), spread over 500 m cells in proportion to
#   the 0.02° settlement-cover grid, each kabupaten's total kept exactly;
# - zones: the kecamatan of those kabupaten (tables and maps), and the 470 desa (coverage_desa.csv);
# - roads: the official national and provincial roads only (no kabupaten or desa roads);
# - health: Kemenkes 2019 puskesmas and hospitals, by motorbike; SMA: Dapodik 2017, on foot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${REACH_DATA:-$here/../../shared/data}"
reach init "$here" --overwrite \
  --scenario-file sumba.toml --output ../maps/sumba \
  --name "Sumba (NTT): puskesmas dengan sepeda motor, SMA berjalan kaki" \
  --boundaries "$data/indonesia_ntt_admin/ntt_kecamatan_adm3.geojson" \
  --id-column kode --name-column nama --where 'kode=53.11.*,53.12.*,53.17.*,53.18.*' \
  --counts "$data/indonesia_sumba/ntt/population_kabupaten_ntt_2025.csv" \
  --count-zone-column kode --count-column total_dukcapil_2025 \
  --count-zones "$data/indonesia_ntt_admin/ntt_kabupaten_adm2.geojson" --count-zones-id kode \
  --count-zones-where kode=53.11,53.12,53.17,53.18 \
  --weights "$data/indonesia_sumba/ntt/settlement_cover_grid_ntt_0p02deg.gpkg" \
  --weight-column pct_cover \
  --roads "$data/indonesia_sumba/roads_pupr_nasional_provinsi_sumba.gpkg" \
  --road-class-column road_class \
  --health "$data/indonesia_sumba/faskes_kemenkes_bppsdmk_2019_sumba.gpkg" --health-mode motorbike \
  --health-label "Layanan kesehatan dengan sepeda motor" \
  --school "$data/indonesia_sumba/sma_dapodik_2017_sumba.gpkg" --school-service sma \
  --school-mode walk --school-label "SMA berjalan kaki" --tier-column tier \
  --level "desa=$data/indonesia_ntt_admin/sumba_desa_adm4.geojson:kode:nama" \
  --report id --currency IDR
