set -x
D="--data bt/1D_Burgers_Sols_Nu0.01_plain.hdf5 --set data.test=\"bs/1D_Burgers_Sols_Nu0.01_plain.hdf5\" --set model.width=16 --set model.modes=[12,12] --set model.layers=3 --set data.max_train_samples=400 --set physics.w_pde=0 --set physics.w_ic=0 --set physics.unlabelled_samples=0"
time fno train --config /work/main/configs/burgers_pino.toml $D --set train.epochs=4 --set train.schedule.step_size=10 --out weak --overwrite
time fno train --config /work/main/configs/burgers_pino.toml $D --set train.epochs=40 --set train.schedule.step_size=12 --out good --overwrite
