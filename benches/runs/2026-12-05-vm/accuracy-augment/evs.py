import json,sys
def ev(f):
    d=json.load(open(f))
    return [round(r['metrics']['nrmse']['mean'],4) for r in d['results']]
for name in sys.argv[1:]:
    a=[ev(f'{name}-s{s}.eval.json') for s in (0,1)]
    m32=(a[0][0]+a[1][0])/2; m64=(a[0][1]+a[1][1])/2
    print(name, a, 'mean32 %.4f (%.3fx ref) mean64 %.4f (%.3fx) pen %.3f / %.3f mean %.3f'%(m32,m32/0.04707,m64,m64/0.06214,a[0][1]/a[0][0],a[1][1]/a[1][0],(a[0][1]/a[0][0]+a[1][1]/a[1][0])/2))
