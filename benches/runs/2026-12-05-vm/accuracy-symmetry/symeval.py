import json,sys
# usage: symeval.py NAME... ; prints plain vs averaged nrmse of NAME.{plain,eval}.json (each result grid), from this directory
for n in sys.argv[1:]:
    out=[]
    for k in ('plain','eval'):
        d=json.load(open('%s.%s.json'%(n,k)))
        out.append(' '.join('%s:%.4f'%(r['grid'][0], r['metrics']['nrmse']['mean']) for r in d['results']))
    print(n, 'plain', out[0], '| averaged', out[1])
