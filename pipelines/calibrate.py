from starrec.predict.calibrate import run_calibrate
from starrec.stage import run_stage


def main(cfg):
    run_calibrate(cfg)


if __name__ == "__main__":
    run_stage(main)
