"""skce's airspeed velocity (asv) benchmark suite; see ../asv.conf.json."""
